//! The one place output is written: results to stdout, errors to stderr, `--quiet` honoured.

#![allow(clippy::print_stdout, clippy::print_stderr)]

/// Writes what commands have to say.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    quiet: bool,
    verbose: bool,
}

impl Printer {
    /// A printer; `quiet` silences everything but errors, `verbose` adds the steps.
    pub fn new(quiet: bool, verbose: bool) -> Self {
        Self {
            quiet,
            verbose: verbose && !quiet,
        }
    }

    /// A progress bar of `len` units drawn with the indicatif `template` (`{bar:30}`,
    /// `{pos}`, `{len}`, `{msg}`, …); hidden with `--quiet`.
    pub fn progress_bar(&self, len: u64, template: &str) -> indicatif::ProgressBar {
        let bar = if self.quiet {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new(len)
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    }

    /// A step worth showing with `-v` (on stderr).
    pub fn step(&self, text: impl AsRef<str>) {
        if self.verbose {
            eprintln!("  {}", text.as_ref());
        }
    }

    /// A line of normal output.
    pub fn line(&self, text: impl AsRef<str>) {
        if !self.quiet {
            println!("{}", text.as_ref());
        }
    }

    /// The command's product (generated text, a dashboard) on stdout, even with `--quiet`.
    pub fn output(&self, text: impl AsRef<str>) {
        println!("{}", text.as_ref());
    }

    /// A piece of the product as it is made (streamed tokens): no newline, flushed at once.
    pub fn output_piece(&self, text: &str) {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// The interactive chat's prompt marker, on stderr (stdout holds only answers).
    pub fn prompt(&self, marker: &str) {
        use std::io::Write as _;
        if !self.quiet {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(marker.as_bytes());
            let _ = err.flush();
        }
    }

    /// Diagnostic detail on stderr (`--debug`, notes), silenced by `--quiet`.
    pub fn note(&self, text: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", text.as_ref().trim_end());
        }
    }

    /// Something the user must know (a pack replaced by its fallback), always shown.
    pub fn warn(&self, text: impl AsRef<str>) {
        eprintln!("warning: {}", text.as_ref());
    }

    /// An error with its whole chain of causes, cargo style.
    pub fn error(&self, err: &anyhow::Error) {
        eprintln!("error: {err}");
        for cause in err.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
    }
}

pub(crate) use modularbase_runtime::human_bytes;
