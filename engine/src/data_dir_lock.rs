//! One process per data directory.
//!
//! Two engines on one directory would each recover the same shards and hand
//! out the same sequence numbers to different records, both acknowledged as
//! durable; whichever wrote last wins on disk and the other's acknowledged
//! records are gone. So an engine takes an exclusive `flock` on
//! `<data dir>/shoal.lock` before it reads anything, and holds it for as long
//! as it runs. The kernel drops the lock with the process, however it ends
//! (kill -9 included), so a stale lock file never blocks a restart.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{EngineError, Result};

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "shoal.lock";

/// Holds the data directory's lock until dropped.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the lock of `data_dir` (created if missing), without waiting:
    /// [`EngineError::DataDir`] if another process holds it.
    pub fn acquire(data_dir: &Path) -> Result<DataDirLock> {
        std::fs::create_dir_all(data_dir).map_err(|e| EngineError::io("mkdir", data_dir, e))?;
        let path = data_dir.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| EngineError::io("open", &path, e))?;
        // SAFETY: flock on a file descriptor we own; no memory is passed.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if locked != 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::WouldBlock {
                return Err(EngineError::io("lock", &path, error));
            }
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() { String::new() } else { format!(" (pid {holder})") };
            return Err(EngineError::DataDir(format!(
                "data directory {} is in use by another Shoal process{who}: one directory serves one process",
                data_dir.display()
            )));
        }
        // Who holds it, for the message above; the lock itself is the flock.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        Ok(DataDirLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().expect("dir");
        let first = DataDirLock::acquire(dir.path()).expect("first");
        // flock locks belong to the open file: a second open in this process
        // conflicts just as another process would.
        match DataDirLock::acquire(dir.path()) {
            Err(EngineError::DataDir(message)) => {
                assert!(message.contains("in use by another Shoal process"), "{message}");
                assert!(message.contains(&format!("pid {}", std::process::id())), "{message}");
            }
            other => panic!("expected DataDir, got {other:?}"),
        }
        drop(first);
        let again = DataDirLock::acquire(dir.path()).expect("free again");
        assert!(again.path().ends_with(LOCK_FILE));
    }
}
