//! The home lock: one process changes a home at a time, readers share it (as cargo's
//! "Blocking waiting for file lock"). The lock is the OS's advisory lock on `.home.lock`,
//! released when the process ends however it ends; the holder's PID is written inside for
//! the waiting message.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};

use anyhow::Context;

use super::Home;
use crate::printer::Printer;

const LOCK_FILE: &str = ".home.lock";

/// A held home lock, released when dropped.
#[derive(Debug)]
pub struct HomeGuard {
    file: File,
    exclusive: bool,
}

impl Drop for HomeGuard {
    fn drop(&mut self) {
        if self.exclusive {
            // The PID is stale once released; a waiter then names no one rather than it.
            let _ = self.file.set_len(0);
        }
    }
}

impl Home {
    /// Takes the home for changing it: waits (saying so) while another process holds it,
    /// then completes or removes what an interrupted run left ([`Home::recover`]).
    pub fn exclusive(&self, printer: &Printer) -> anyhow::Result<HomeGuard> {
        let mut file = self.acquire(true, printer)?;
        // Readers only ever see this while the lock is held: the PID of the holder.
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| write!(file, "{}", std::process::id()))
            .with_context(|| format!("cannot write `{}`", self.root.join(LOCK_FILE).display()))?;
        let guard = HomeGuard {
            file,
            exclusive: true,
        };
        self.recover(printer)?;
        Ok(guard)
    }

    /// Takes the home for reading it, beside other readers, waiting while it is changed.
    pub fn shared(&self, printer: &Printer) -> anyhow::Result<HomeGuard> {
        Ok(HomeGuard {
            file: self.acquire(false, printer)?,
            exclusive: false,
        })
    }

    fn acquire(&self, exclusive: bool, printer: &Printer) -> anyhow::Result<File> {
        self.ensure_dir(&self.root)?;
        let path = self.root.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open the home lock `{}`", path.display()))?;
        let attempt = if exclusive {
            file.try_lock()
        } else {
            file.try_lock_shared()
        };
        match attempt {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => {
                return Err(e)
                    .with_context(|| format!("cannot lock the home `{}`", self.root.display()));
            }
        }
        let mut holder = String::new();
        let _ = (&mut file).take(32).read_to_string(&mut holder);
        let holder = match holder.trim().parse::<u32>() {
            Ok(pid) => format!("held by PID {pid}"),
            Err(_) => "held by another modularbase process".to_owned(),
        };
        printer.note(format!(
            "waiting for the lock on {} {holder}…",
            self.root.display()
        ));
        let waited = if exclusive {
            file.lock()
        } else {
            file.lock_shared()
        };
        waited.with_context(|| format!("cannot lock the home `{}`", self.root.display()))?;
        Ok(file)
    }
}
