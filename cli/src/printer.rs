//! The one place output is written: results to stdout, errors to stderr, `--quiet` honoured.

#![allow(clippy::print_stdout, clippy::print_stderr)]

/// Writes what commands have to say.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    quiet: bool,
}

impl Printer {
    /// A printer; `quiet` silences everything but errors.
    pub fn new(quiet: bool) -> Self {
        Self { quiet }
    }

    /// A line of normal output.
    pub fn line(&self, text: impl AsRef<str>) {
        if !self.quiet {
            println!("{}", text.as_ref());
        }
    }

    /// An error with its whole chain of causes, cargo style.
    pub fn error(&self, err: &anyhow::Error) {
        eprintln!("error: {err}");
        for cause in err.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
    }
}

/// Bytes as a short human figure (`2.5 MiB`).
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
