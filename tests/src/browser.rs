//! A real headless Chromium (Debian's `chromium`) for marketplace tests: the DOM a page
//! renders to, and screenshots kept as test artifacts.
//!
//! Each call is one short-lived browser with a fresh profile, no sandbox (CI runs as root),
//! no GPU and no network of its own beyond the page; a browser that hangs is killed with
//! its whole process group and fails the test.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one browser run may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The flags of every run: headless, no sandbox, no GPU, nothing in the background.
const FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
];

/// The screenshot size.
const WINDOW_SIZE: &str = "--window-size=1280,900";

/// A Chromium binary.
#[derive(Debug, Clone)]
pub struct Chromium {
    bin: PathBuf,
}

impl Chromium {
    /// `$MODULARBASE_CHROMIUM`, else `chromium` or `chromium-browser` on `PATH`; fails the
    /// test with how to install it when there is none (CI's `.ci/run` installs it).
    pub fn find() -> Self {
        let from_env = std::env::var_os("MODULARBASE_CHROMIUM").map(PathBuf::from);
        let on_path = || {
            let path = std::env::var_os("PATH").unwrap_or_default();
            std::env::split_paths(&path)
                .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
                .find(|candidate| candidate.is_file())
        };
        let bin = from_env.or_else(on_path).unwrap_or_else(|| {
            panic!(
                "no Chromium found: the marketplace browser tests need Debian's `chromium` \
                 (`apt-get install chromium`; `.ci/run` installs it) or MODULARBASE_CHROMIUM"
            )
        });
        Self { bin }
    }

    /// The DOM of `url` after the browser rendered it, serialised (`--dump-dom`).
    pub fn dump_dom(&self, url: &str) -> String {
        let stdout = self.run(&["--dump-dom", url]);
        String::from_utf8(stdout).unwrap()
    }

    /// Saves a 1280×900 PNG screenshot of `url` at `path`.
    pub fn screenshot(&self, url: &str, path: &Path) {
        let _ = std::fs::remove_file(path);
        let arg = format!("--screenshot={}", path.display());
        self.run(&[&arg, WINDOW_SIZE, url]);
        let bytes = std::fs::read(path).unwrap_or_default();
        assert!(
            bytes.starts_with(b"\x89PNG"),
            "chromium wrote no PNG at `{}`",
            path.display()
        );
    }

    /// The DOM of `url` after the page ran for `virtual_ms` of virtual time: its timers fire
    /// and its fetches complete (the clock waits for the network) before the DOM is dumped,
    /// so a page that polls shows what it drew after that many milliseconds of polling.
    pub fn dump_dom_after(&self, url: &str, virtual_ms: u32) -> String {
        let budget = format!("--virtual-time-budget={virtual_ms}");
        let stdout = self.run(&[&budget, "--dump-dom", url]);
        String::from_utf8(stdout).unwrap()
    }

    /// Saves a `width`×`height` PNG screenshot of `url` at `path`, taken after the page ran
    /// for `virtual_ms` of virtual time (as [`Self::dump_dom_after`]).
    pub fn screenshot_after(
        &self,
        url: &str,
        path: &Path,
        (width, height): (u32, u32),
        virtual_ms: u32,
    ) {
        let _ = std::fs::remove_file(path);
        let shot = format!("--screenshot={}", path.display());
        let size = format!("--window-size={width},{height}");
        let budget = format!("--virtual-time-budget={virtual_ms}");
        self.run(&[&shot, &size, &budget, url]);
        let bytes = std::fs::read(path).unwrap_or_default();
        assert!(
            bytes.starts_with(b"\x89PNG"),
            "chromium wrote no PNG at `{}`",
            path.display()
        );
    }

    /// Runs the browser with `args`, returning its standard output; fails the test if it
    /// fails or runs past [`TIMEOUT`].
    fn run(&self, args: &[&str]) -> Vec<u8> {
        let profile = tempfile::tempdir().unwrap();
        let out = tempfile::NamedTempFile::new().unwrap();
        let err = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new(&self.bin)
            .args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(args)
            .stdin(Stdio::null())
            .stdout(File::create(out.path()).unwrap())
            .stderr(File::create(err.path()).unwrap())
            // Its own process group, so a hang is ended with every helper process it started.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", self.bin.display()));
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > TIMEOUT {
                let group = format!("-{}", child.id());
                let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                let _ = child.wait();
                panic!(
                    "chromium {args:?} did not finish in {TIMEOUT:?}; killed. Its log:\n{}",
                    std::fs::read_to_string(err.path()).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(
            status.success(),
            "chromium {args:?} failed ({status}):\n{}",
            std::fs::read_to_string(err.path()).unwrap_or_default()
        );
        std::fs::read(out.path()).unwrap()
    }
}

/// `target/test-artifacts/`, created: where tests leave files for people to look at.
pub fn artifacts_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/<test binary> → target/
    let target = exe
        .ancestors()
        .nth(3)
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("target"));
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
