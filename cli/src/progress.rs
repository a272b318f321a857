//! A terminal progress bar (indicatif) behind the library's progress hooks;
//! silent when stderr is not a terminal or with `-q`.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use patchvault::progress::Progress;

pub struct Bar {
    enabled: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bar {
    pub fn new(quiet: bool) -> Bar {
        Bar {
            enabled: !quiet && std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
        }
    }
}

impl Progress for Bar {
    fn begin(&self, label: &str, total: u64) {
        if !self.enabled || total == 0 {
            return;
        }
        if label == "syncing" {
            let bar = ProgressBar::new_spinner();
            bar.set_message(format!("syncing {total} new objects to disk"));
            bar.enable_steady_tick(std::time::Duration::from_millis(100));
            if let Ok(mut b) = self.bar.lock() {
                *b = Some(bar);
            }
            return;
        }
        let bar = ProgressBar::new(total);
        let template = if label == "hashing" {
            "{msg:>8} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}"
        } else {
            "{msg:>8} [{bar:30}] {pos}/{len} files {eta}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label.to_string());
        if let Ok(mut b) = self.bar.lock() {
            *b = Some(bar);
        }
    }

    fn advance(&self, n: u64) {
        if let Ok(b) = self.bar.lock() {
            if let Some(b) = b.as_ref() {
                b.inc(n);
            }
        }
    }

    fn end(&self) {
        if let Ok(mut b) = self.bar.lock() {
            if let Some(b) = b.take() {
                b.finish_and_clear();
            }
        }
    }
}
