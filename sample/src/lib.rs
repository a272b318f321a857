//! Sample Carbon product homes and patch zips, generated deterministically
//! from a seed, for patchvault's walkthrough, tests and benchmarks.
//!
//! A home has Carbon's layout (`bin/version.txt`, `bin/wso2server.sh`,
//! `repository/components/{plugins,dropins,lib,patches}`,
//! `repository/conf/carbon.xml`, `repository/conf/identity/identity.xml`,
//! `repository/logs/`), and `plugins/` holds real jars: zip archives with a
//! `META-INF/MANIFEST.MF` naming `Bundle-SymbolicName` and `Bundle-Version`
//! and deflated class-like entries. Patch zips follow WSO2's layout:
//! `WSO2-CARBON-PATCH-<kernel>-<NNNN>/{README.txt, wso2carbon-version.txt,
//! patchNNNN/*.jar}`, each jar being an existing bundle with 1–3 entries
//! changed, under the same file name.

use std::fs;
use std::io::{Cursor, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rayon::prelude::*;
use zip::write::SimpleFileOptions;

pub const PRODUCT: &str = "WSO2 API Manager";
pub const PRODUCT_VERSION: &str = "4.2.0";
pub const KERNEL_VERSION: &str = "4.9.0";

/// What to generate.
#[derive(Clone, Debug)]
pub struct Options {
    /// Jars in `plugins/` (default 750).
    pub jars: usize,
    pub seed: u64,
    /// Small jars (2–40 KiB) for fast tests instead of a real size spread.
    pub small: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            jars: 750,
            seed: 42,
            small: false,
        }
    }
}

/// One bundle of the home.
#[derive(Clone, Debug)]
pub struct JarSpec {
    pub symbolic_name: String,
    pub version: String,
    /// Whether the manifest adds `;singleton:=true` to the symbolic name.
    pub singleton: bool,
    /// Approximate size of the jar on disk.
    pub target_size: u64,
    pub seed: u64,
}

impl JarSpec {
    /// Carbon's plugin file name: `Bundle-SymbolicName_Bundle-Version.jar`.
    pub fn file_name(&self) -> String {
        format!("{}_{}.jar", self.symbolic_name, self.version)
    }
}

/// A generated patch: which jars it replaces.
#[derive(Clone, Debug)]
pub struct PatchSpec {
    pub number: u32,
    pub jars: Vec<usize>,
    pub jira: Vec<String>,
    pub seed: u64,
}

impl PatchSpec {
    pub fn folder(&self) -> String {
        format!("patch{:04}", self.number)
    }
    pub fn patch_id(&self) -> String {
        format!("WSO2-CARBON-PATCH-{KERNEL_VERSION}-{:04}", self.number)
    }
}

/// A deterministic sample: the bundles of a home and the patches for it.
pub struct Sample {
    pub options: Options,
    pub jars: Vec<JarSpec>,
}

/// SplitMix64: a small, fast, deterministic generator for sample data.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const VENDORS: &[&str] = &[
    "org.wso2.carbon",
    "org.wso2.carbon.apimgt",
    "org.wso2.carbon.identity",
    "org.apache",
    "org.wso2.am",
    "io.swagger",
    "org.wso2.orbit",
];
const AREAS: &[&str] = &[
    "core",
    "mgt",
    "gateway",
    "keymgt",
    "oauth",
    "user",
    "registry",
    "throttling",
    "analytics",
    "event",
    "rest",
    "publisher",
    "devportal",
    "workflow",
    "notification",
    "tenant",
    "ui",
    "common",
    "impl",
    "persistence",
    "axis2",
    "synapse",
    "transport",
    "security",
    "governance",
    "claim",
    "scim2",
    "saml",
    "xacml",
    "logging",
];
const PARTS: &[&str] = &[
    "api",
    "service",
    "stub",
    "client",
    "server",
    "utils",
    "feature",
    "handler",
    "config",
    "dao",
    "model",
    "executor",
    "listener",
    "cache",
    "validator",
];

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

impl Sample {
    pub fn new(options: Options) -> Sample {
        let mut rng = Rng::new(options.seed);
        let mut jars = Vec::with_capacity(options.jars);
        let mut seen = std::collections::HashSet::new();
        // About 1.6% of jars are big (a dozen out of 750).
        let big_every = 62;
        while jars.len() < options.jars {
            let i = jars.len();
            let name = format!(
                "{}.{}.{}",
                rng.pick(VENDORS),
                rng.pick(AREAS),
                rng.pick(PARTS)
            );
            if !seen.insert(name.clone()) {
                // Name space is large; on a clash add a distinguishing part.
                let name2 = format!("{name}.m{i}");
                seen.insert(name2.clone());
                jars.push(Self::spec(&mut rng, name2, i, big_every, &options));
                continue;
            }
            jars.push(Self::spec(&mut rng, name, i, big_every, &options));
        }
        Sample { options, jars }
    }

    fn spec(
        rng: &mut Rng,
        symbolic_name: String,
        i: usize,
        big_every: usize,
        o: &Options,
    ) -> JarSpec {
        let version = match rng.below(4) {
            0 => format!("4.{}.{}", 9 + rng.below(2), rng.below(120)),
            1 => format!(
                "1.{}.{}.wso2v{}",
                rng.below(10),
                rng.below(20),
                1 + rng.below(90)
            ),
            2 => format!("{}.{}.{}", 5 + rng.below(3), rng.below(30), rng.below(200)),
            _ => format!("9.{}.{}", rng.below(30), rng.below(500)),
        };
        let target_size = if o.small {
            2 * KIB + rng.below(38 * KIB)
        } else if i % big_every == big_every / 2 {
            4 * MIB + rng.below(14 * MIB)
        } else {
            // Log-normal around a 68 KB median, capped below the big jars.
            let s = 58_000.0 * (1.75 * rng.normal()).exp();
            (s as u64).clamp(3 * KIB, 3 * MIB + 512 * KIB)
        };
        JarSpec {
            symbolic_name,
            version,
            singleton: rng.below(3) == 0,
            target_size,
            seed: rng.next_u64(),
        }
    }

    /// Writes a complete product home into `dir` (created if missing).
    pub fn write_home(&self, dir: &Path) -> Result<()> {
        let comp = dir.join("repository/components");
        for d in ["plugins", "dropins", "lib", "patches"] {
            mkdir(&comp.join(d))?;
        }
        mkdir(&dir.join("repository/logs"))?;
        mkdir(&dir.join("repository/conf/identity"))?;
        mkdir(&dir.join("bin"))?;
        write(
            &dir.join("bin/version.txt"),
            format!("{PRODUCT} v{PRODUCT_VERSION}\n").as_bytes(),
        )?;
        write(&dir.join("bin/wso2server.sh"), WSO2SERVER_SH.as_bytes())?;
        fs::set_permissions(
            dir.join("bin/wso2server.sh"),
            fs::Permissions::from_mode(0o755),
        )
        .context("chmod wso2server.sh")?;
        write(
            &dir.join("repository/conf/carbon.xml"),
            carbon_xml().as_bytes(),
        )?;
        write(
            &dir.join("repository/conf/identity/identity.xml"),
            IDENTITY_XML.as_bytes(),
        )?;
        write(
            &dir.join("repository/conf/deployment.toml"),
            DEPLOYMENT_TOML.as_bytes(),
        )?;
        let plugins = comp.join("plugins");
        self.jars.par_iter().try_for_each(|j| -> Result<()> {
            write(&plugins.join(j.file_name()), &jar_bytes(j, &[])?)
        })?;
        Ok(())
    }

    /// The patches for this sample: patch k (1-based) replaces 1–3 jars,
    /// possibly ones an earlier patch also replaced.
    pub fn patch(&self, number: u32) -> PatchSpec {
        let mut rng = Rng::new(
            self.options
                .seed
                .wrapping_mul(31)
                .wrapping_add(number as u64),
        );
        let n = 1 + rng.below(3) as usize;
        let mut jars = Vec::new();
        while jars.len() < n.min(self.jars.len()) {
            let j = rng.below(self.jars.len() as u64) as usize;
            if !jars.contains(&j) {
                jars.push(j);
            }
        }
        let jira = (0..1 + rng.below(2))
            .map(|_| {
                format!(
                    "https://github.com/wso2/api-manager/issues/{}",
                    1000 + rng.below(9000)
                )
            })
            .collect();
        PatchSpec {
            number,
            jars,
            jira,
            seed: rng.next_u64(),
        }
    }

    /// Every seventh patch also brings a bundle the home did not have.
    pub fn new_bundle(&self, number: u32) -> Option<JarSpec> {
        number.is_multiple_of(7).then(|| JarSpec {
            symbolic_name: format!("org.wso2.carbon.hotfix.p{number}"),
            version: "1.0.0".into(),
            singleton: true,
            target_size: 6 * KIB,
            seed: 7_000 + number as u64,
        })
    }

    /// The bytes of a patch's version of jar `j`.
    pub fn patched_jar(&self, patch: &PatchSpec, j: usize) -> Result<Vec<u8>> {
        let spec = &self.jars[j];
        let mut rng = Rng::new(patch.seed ^ spec.seed);
        let entries = entry_count(spec);
        let changes: Vec<(usize, u64)> = (0..1 + rng.below(3))
            .map(|_| (rng.below(entries as u64) as usize, rng.next_u64()))
            .collect();
        jar_bytes(spec, &changes)
    }

    /// The files patch `number` changes in a home when applied by hand:
    /// `(home-relative path, bytes)` — its jars under their plugin names,
    /// a new bundle, and for every fifth patch a lib jar and a config file.
    /// Benchmarks apply these to every tool alike.
    pub fn patch_files(&self, number: u32) -> Result<Vec<(String, Vec<u8>)>> {
        let p = self.patch(number);
        let mut out = Vec::new();
        for &j in &p.jars {
            out.push((
                format!("repository/components/plugins/{}", self.jars[j].file_name()),
                self.patched_jar(&p, j)?,
            ));
        }
        if let Some(spec) = self.new_bundle(number) {
            out.push((
                format!("repository/components/plugins/{}", spec.file_name()),
                jar_bytes(&spec, &[])?,
            ));
        }
        out.push((
            "bin/wso2carbon-version.txt".into(),
            format!("WSO2 Carbon Kernel v{KERNEL_VERSION}-{number:04}\n").into_bytes(),
        ));
        Ok(out)
    }

    /// Writes patch `number` as a WSO2 patch zip into `out_dir`; returns its path.
    pub fn write_patch_zip(&self, number: u32, out_dir: &Path) -> Result<PathBuf> {
        let p = self.patch(number);
        let top = p.patch_id();
        let mut zw = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default());
        let mut add = |name: String, data: &[u8]| -> Result<()> {
            zw.start_file(name.as_str(), opts)
                .with_context(|| format!("zip entry {name}"))?;
            zw.write_all(data)?;
            Ok(())
        };
        add(format!("{top}/README.txt"), self.readme(&p).as_bytes())?;
        add(
            format!("{top}/LICENSE.txt"),
            b"Apache License, Version 2.0\n",
        )?;
        add(
            format!("{top}/wso2carbon-version.txt"),
            format!("WSO2 Carbon Kernel v{KERNEL_VERSION}-{:04}\n", number).as_bytes(),
        )?;
        for &j in &p.jars {
            let bytes = self.patched_jar(&p, j)?;
            let spec = &self.jars[j];
            // Every fourth patch ships Maven-style file names, which Carbon
            // renames to SymbolicName_Version.jar from the manifest.
            let name = if number.is_multiple_of(4) {
                format!("{}-{}.jar", spec.symbolic_name, spec.version)
            } else {
                spec.file_name()
            };
            add(format!("{top}/{}/{name}", p.folder()), &bytes)?;
        }
        if let Some(spec) = self.new_bundle(number) {
            add(
                format!("{top}/{}/{}", p.folder(), spec.file_name()),
                &jar_bytes(&spec, &[])?,
            )?;
        }
        if number.is_multiple_of(5) {
            // A library jar and a config change the README asks for.
            let lib = JarSpec {
                symbolic_name: format!("patch{number}-support"),
                version: "1.0".into(),
                singleton: false,
                target_size: 4 * KIB,
                seed: number as u64,
            };
            add(
                format!("{top}/lib/{}", lib.file_name()),
                &jar_bytes(&lib, &[])?,
            )?;
            let identity = IDENTITY_XML.replace(
                "<CleanUpTimeout>40320",
                &format!("<CleanUpTimeout>{}", 40320 + number),
            );
            add(
                format!("{top}/repository/conf/identity/identity.xml"),
                identity.as_bytes(),
            )?;
        }
        let data = zw.finish().context("finishing patch zip")?.into_inner();
        mkdir(out_dir)?;
        let path = out_dir.join(format!("{top}.zip"));
        write(&path, &data)?;
        Ok(path)
    }

    /// The README.txt of a patch, in WSO2's format.
    pub fn readme(&self, p: &PatchSpec) -> String {
        let jars: Vec<String> = p.jars.iter().map(|&j| self.jars[j].file_name()).collect();
        format!(
            "Patch ID         : {id}\n\
             Applies To       : {PRODUCT} {PRODUCT_VERSION}\n\
             Associated JIRA  : {jira}\n\n\
             DESCRIPTION\n\
             -----------\n\
             Fixes issues in {names}.\n\n\
             INSTALLATION INSTRUCTIONS\n\
             -------------------------\n\n\
             (i)  Shutdown the server, if you have already started.\n\n\
             (ii) Copy the wso2carbon-version.txt file to <CARBON_SERVER>/bin.\n\n\
             (iii) Copy the {folder} to  <CARBON_SERVER>/repository/components/patches/\n\n\
             {extra}\
             (iv) Restart the server with :\n\
             \x20      Linux/Unix :  sh wso2server.sh\n\
             \x20      Windows    :  wso2server.bat\n",
            id = p.patch_id(),
            jira = p.jira.join(", "),
            names = jars.join(", "),
            folder = p.folder(),
            extra = if p.number.is_multiple_of(5) {
                format!(
                    "(iii-a) Copy lib/patch{n}-support_1.0.jar to <CARBON_SERVER>/lib/ and replace repository/conf/identity/identity.xml.\n\n\
                     (iii-b) Run the script dbscripts/patch{n}.sql against the identity database.\n\n",
                    n = p.number
                )
            } else {
                String::new()
            },
        )
    }
}

/// Simulates a server start: logs, a pid file, OSGi caches, temp and work
/// files, a database file — all runtime state the ignore rules leave out.
pub fn simulate_server_start(home: &Path) -> Result<()> {
    let logs = home.join("repository/logs");
    mkdir(&logs)?;
    write(
        &logs.join("wso2carbon.log"),
        b"INFO {org.wso2.carbon.core.init.CarbonServerManager} - Starting WSO2 Carbon\n",
    )?;
    write(
        &logs.join("patches.log"),
        b"INFO {org.wso2.carbon.server.util.PatchUtils} - Checking for patch changes\n",
    )?;
    write(&home.join("wso2carbon.pid"), b"12345\n")?;
    let osgi = home.join("repository/components/default/configuration/org.eclipse.osgi");
    mkdir(&osgi)?;
    write(&osgi.join(".manager.lock"), b"")?;
    write(&home.join("repository/components/default/configuration/org.eclipse.equinox.simpleconfigurator.info"), b"cache\n")?;
    mkdir(&home.join("tmp"))?;
    write(&home.join("tmp/upload.tmp"), b"x")?;
    mkdir(&home.join("work/synapse"))?;
    mkdir(&home.join("repository/database"))?;
    write(&home.join("repository/database/WSO2AM_DB.mv.db"), b"h2")?;
    Ok(())
}

fn entry_count(spec: &JarSpec) -> usize {
    // Entries average ~12 KB compressed; big jars hold big resources instead.
    ((spec.target_size / (12 * KIB)) as usize).clamp(2, 400)
}

/// Builds a jar: manifest plus deflated class-like entries, with the given
/// `(entry, seed)` changes applied (a patched class).
pub fn jar_bytes(spec: &JarSpec, changes: &[(usize, u64)]) -> Result<Vec<u8>> {
    let mut zw = zip::ZipWriter::new(Cursor::new(Vec::with_capacity(
        spec.target_size as usize + 4096,
    )));
    let deflate = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .last_modified_time(zip::DateTime::default());
    let bsn = if spec.singleton {
        format!("{};singleton:=true", spec.symbolic_name)
    } else {
        spec.symbolic_name.clone()
    };
    let manifest = format!(
        "Manifest-Version: 1.0\r\nBundle-ManifestVersion: 2\r\nBundle-Name: {}\r\nBundle-SymbolicName: {bsn}\r\nBundle-Version: {}\r\nCreated-By: patchvault-sample\r\n\r\n",
        spec.symbolic_name, spec.version
    );
    zw.start_file("META-INF/MANIFEST.MF", deflate)?;
    zw.write_all(manifest.as_bytes())?;
    let entries = entry_count(spec);
    // Class-like content compresses to ~0.8 of its size; aim at target_size.
    let per_entry = (spec.target_size as f64 / 0.8 / entries as f64) as usize;
    let pkg = spec.symbolic_name.replace('.', "/");
    let mut rng = Rng::new(spec.seed);
    for e in 0..entries {
        let len = (per_entry as f64 * (0.5 + rng.unit())) as usize;
        let mut entry_seed = rng.next_u64();
        for (idx, s) in changes {
            if *idx == e {
                entry_seed ^= s;
            }
        }
        zw.start_file(format!("{pkg}/internal/Class{e}.class"), deflate)?;
        zw.write_all(&class_bytes(entry_seed, len.max(64)))?;
    }
    Ok(zw.finish()?.into_inner())
}

/// Bytes shaped like a class file: magic, a constant pool of repeated
/// identifiers, and high-entropy code.
fn class_bytes(seed: u64, len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "Ljava/lang/String;",
        "org/wso2/carbon/",
        "getInstance",
        "<init>",
        "Code",
        "LineNumberTable",
        "java/util/Map",
        "toString",
        "apimgt",
        "identity",
    ];
    let mut rng = Rng::new(seed);
    let mut v = Vec::with_capacity(len + 32);
    v.extend_from_slice(&[0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 55]);
    while v.len() < len {
        if rng.below(10) < 2 {
            v.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
        } else {
            let x = rng.next_u64().to_le_bytes();
            v.extend_from_slice(&x);
        }
    }
    v.truncate(len);
    v
}

fn mkdir(p: &Path) -> Result<()> {
    fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))
}

fn write(p: &Path, data: &[u8]) -> Result<()> {
    fs::write(p, data).with_context(|| format!("writing {}", p.display()))
}

fn carbon_xml() -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<Server xmlns=\"http://wso2.org/projects/carbon/carbon.xml\">\n    <Name>{PRODUCT}</Name>\n    <ServerKey>AM</ServerKey>\n    <Version>{PRODUCT_VERSION}</Version>\n    <HostName>localhost</HostName>\n    <Ports>\n        <Offset>0</Offset>\n    </Ports>\n</Server>\n"
    )
}

const WSO2SERVER_SH: &str = "#!/bin/sh\n# Startup script for the sample Carbon server\nCARBON_HOME=\"$(cd \"$(dirname \"$0\")/..\" && pwd)\"\necho \"Starting WSO2 Carbon from $CARBON_HOME\"\n";

const IDENTITY_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Server xmlns=\"http://wso2.org/projects/carbon/carbon.xml\">\n    <OAuth>\n        <AccessTokenDefaultValidityPeriod>3600</AccessTokenDefaultValidityPeriod>\n        <UserAccessTokenDefaultValidityPeriod>3600</UserAccessTokenDefaultValidityPeriod>\n        <EnableRefreshTokenRevocation>true</EnableRefreshTokenRevocation>\n    </OAuth>\n    <SessionDataCleanUp>\n        <Enable>true</Enable>\n        <CleanUpTimeout>40320</CleanUpTimeout>\n    </SessionDataCleanUp>\n</Server>\n";

const DEPLOYMENT_TOML: &str = "[server]\nhostname = \"localhost\"\noffset = 0\n\n[super_admin]\nusername = \"admin\"\ncreate_admin_account = true\n\n[database.apim_db]\ntype = \"h2\"\nurl = \"jdbc:h2:./repository/database/WSO2AM_DB;DB_CLOSE_ON_EXIT=FALSE\"\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_patch_jars_differ_slightly() {
        let o = Options {
            jars: 20,
            seed: 7,
            small: true,
        };
        let a = Sample::new(o.clone());
        let b = Sample::new(o);
        assert_eq!(a.jars[3].file_name(), b.jars[3].file_name());
        let ja = jar_bytes(&a.jars[3], &[]).unwrap();
        assert_eq!(ja, jar_bytes(&b.jars[3], &[]).unwrap());
        let p = a.patch(1);
        let pj = a.patched_jar(&p, p.jars[0]).unwrap();
        let orig = jar_bytes(&a.jars[p.jars[0]], &[]).unwrap();
        assert_ne!(pj, orig);
        let mut z = zip::ZipArchive::new(Cursor::new(pj)).unwrap();
        assert_eq!(
            z.by_index(0).unwrap().name().unwrap(),
            "META-INF/MANIFEST.MF"
        );
    }
}
