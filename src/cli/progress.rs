//! Progress of a long command: a bar with counts and time left on a terminal, a plain line
//! every tenth of the way otherwise (a log, a systemd journal), both on stderr.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    what: &'static str,
    bar: Option<ProgressBar>,
    /// The tenths of the way said so far, for plain lines (10: the end said).
    said: Option<u64>,
}

impl Progress {
    pub fn new(what: &'static str) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} ({eta} left)")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.set_message(what);
            bar
        });
        Progress {
            what,
            bar,
            said: None,
        }
    }

    /// `done` of `total` so far.
    pub fn set(&mut self, done: u64, total: u64) {
        match &self.bar {
            Some(bar) => {
                bar.set_length(total);
                bar.set_position(done);
            }
            None => {
                // A line at the start, at each further tenth of the way, and at the end.
                let tenth = (done * 10).checked_div(total).unwrap_or(10).min(10);
                if self.said.is_none_or(|said| tenth > said) {
                    self.said = Some(tenth);
                    eprintln!("{}: {done}/{total}", self.what);
                }
            }
        }
    }

    /// A step without a count (a copy running).
    pub fn step(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.println(format!("{}: {message}", self.what)),
            None => eprintln!("{}: {message}", self.what),
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
