//! `patchvault-sample`: writes a sample Carbon product home, its patch zips,
//! or the runtime files a server start leaves behind.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use patchvault_sample::{simulate_server_start, Options, Sample};

#[derive(Parser)]
#[command(
    name = "patchvault-sample",
    about = "Generate sample WSO2 Carbon product homes and patch zips"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct SampleArgs {
    /// Jars in plugins/.
    #[arg(long, default_value_t = 750)]
    jars: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Small jars (2-40 KiB), for quick tries.
    #[arg(long)]
    small: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write a product home into DIR.
    Home {
        dir: PathBuf,
        #[command(flatten)]
        sample: SampleArgs,
    },
    /// Write patch zips 1..=COUNT for the same sample into DIR.
    Patches {
        dir: PathBuf,
        #[arg(long, default_value_t = 12)]
        count: u32,
        #[command(flatten)]
        sample: SampleArgs,
    },
    /// Leave the runtime files of a server start in a home (logs, pid, caches).
    SimulateStart { dir: PathBuf },
}

fn sample(a: &SampleArgs) -> Sample {
    Sample::new(Options {
        jars: a.jars,
        seed: a.seed,
        small: a.small,
    })
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Home { dir, sample: a } => {
            let s = sample(&a);
            s.write_home(&dir)?;
            let total: u64 = s.jars.iter().map(|j| j.target_size).sum();
            println!(
                "Wrote a sample product home with {} jars (~{} MiB) to {}",
                s.jars.len(),
                total >> 20,
                dir.display()
            );
        }
        Cmd::Patches {
            dir,
            count,
            sample: a,
        } => {
            let s = sample(&a);
            for n in 1..=count {
                let p = s.write_patch_zip(n, &dir)?;
                println!("{}", p.display());
            }
        }
        Cmd::SimulateStart { dir } => simulate_server_start(&dir)?,
    }
    Ok(())
}
