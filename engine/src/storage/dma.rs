//! [`Storage`] over glommio's direct-I/O files (O_DIRECT through io_uring).
//!
//! Must be used from inside a glommio executor. Metadata files (catalog,
//! segment indexes) are small and rare, so they go through `std::fs`, on the
//! executor's blocking thread: an fsync of a directory or of a renamed
//! index waits for a journal commit (milliseconds), which must not stall
//! every other request on the core. Only segment data takes the direct-I/O
//! path.
//!
//! Two glommio 0.9 traps are handled here (see `glommio-notes.md`):
//! * the per-thread iopoll probe marks the device pollable if the first
//!   `DmaFile` a thread opens is empty, after which every read fails with
//!   EOPNOTSUPP; we open a non-empty primer file first on every thread;
//! * `DmaFile::create` opens write-only, so segments use `OpenOptions` with
//!   read and write.

use std::cell::Cell;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use glommio::io::{DmaBuffer, DmaFile, OpenOptions};

use super::{SegmentFile, Storage, WriteBuf};
use crate::error::{EngineError, Result};
use crate::limits::DMA_ALIGNMENT;

const PRIMER_FILE: &str = ".dma-primer";

thread_local! {
    static PRIMED: Cell<bool> = const { Cell::new(false) };
}

/// Direct-I/O storage rooted at a data directory.
#[derive(Clone, Debug)]
pub struct DmaStorage {
    root: Arc<PathBuf>,
    /// Metadata calls run on the executor's blocking thread (the normal
    /// case); off for use before any executor exists, where they run inline.
    offload: bool,
}

impl DmaStorage {
    /// Storage for use inside a glommio executor.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: Arc::new(root.into()), offload: true }
    }

    /// Storage for metadata work on a thread without a glommio executor
    /// (no segment I/O): reading the catalog before the executors start.
    pub fn outside_executor(root: impl Into<PathBuf>) -> Self {
        Self { root: Arc::new(root.into()), offload: false }
    }

    /// Runs a blocking file-system call on the executor's blocking thread,
    /// or inline outside an executor.
    async fn off_core<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        if self.offload {
            glommio::executor().spawn_blocking(f).await
        } else {
            f()
        }
    }

    /// Opens a non-empty file once per thread so glommio's iopoll probe
    /// sees the device's real (non-pollable) answer.
    async fn prime(&self) -> Result<()> {
        if PRIMED.with(Cell::get) {
            return Ok(());
        }
        let primer = self.root.join(PRIMER_FILE);
        let ok = std::fs::metadata(&primer).map(|m| m.len() >= DMA_ALIGNMENT as u64).unwrap_or(false);
        if !ok {
            std::fs::create_dir_all(self.root.as_path())
                .map_err(|e| EngineError::io("mkdir", self.root.as_path(), e))?;
            // Written aside and renamed into place: another core priming at the same moment
            // must never open the primer empty (its probe would then mark the device pollable
            // and every read on that core would fail with EOPNOTSUPP).
            static NEXT_TMP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = NEXT_TMP.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let tmp = self.root.join(format!("{PRIMER_FILE}.{}.{n}.tmp", std::process::id()));
            std::fs::write(&tmp, vec![0u8; DMA_ALIGNMENT]).map_err(|e| EngineError::io("write", &tmp, e))?;
            std::fs::rename(&tmp, &primer).map_err(|e| EngineError::io("rename", &tmp, e))?;
        }
        let f = DmaFile::open(&primer).await.map_err(|e| EngineError::io("open", &primer, e.into()))?;
        f.close().await.map_err(|e| EngineError::io("close", &primer, e.into()))?;
        PRIMED.with(|p| p.set(true));
        Ok(())
    }
}

/// A buffer from the executor's DMA pool.
pub struct DmaBuf(DmaBuffer);

impl AsRef<[u8]> for DmaBuf {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl AsMut<[u8]> for DmaBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        self.0.as_bytes_mut()
    }
}

impl WriteBuf for DmaBuf {}

/// A segment file opened for direct I/O.
pub struct DmaSegment {
    file: DmaFile,
    path: PathBuf,
}

impl SegmentFile for DmaSegment {
    type Buf = DmaBuf;

    fn alloc_buf(&self, len: usize) -> DmaBuf {
        assert_eq!(len % DMA_ALIGNMENT, 0, "unaligned buffer length {len}");
        DmaBuf(self.file.alloc_dma_buffer(len))
    }

    async fn write_at(&self, buf: DmaBuf, pos: u64) -> Result<()> {
        assert_eq!(pos % DMA_ALIGNMENT as u64, 0, "unaligned write position {pos}");
        let len = buf.0.len();
        let written =
            self.file.write_at(buf.0, pos).await.map_err(|e| EngineError::io("write", &self.path, e.into()))?;
        if written != len {
            return Err(EngineError::io(
                "write",
                &self.path,
                std::io::Error::other(format!("short write: {written} of {len} bytes")),
            ));
        }
        Ok(())
    }

    fn write_at_inline(&self, buf: DmaBuf, pos: u64) -> Result<()> {
        assert_eq!(pos % DMA_ALIGNMENT as u64, 0, "unaligned write position {pos}");
        let bytes = buf.0.as_bytes();
        loop {
            // SAFETY: the buffer is valid for its length during the call; the fd is open.
            let n =
                unsafe { libc::pwrite(self.file.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), pos as libc::off_t) };
            if n >= 0 {
                // As in `write_at`: a short direct write leaves the rest unaligned, so it is an
                // error rather than something to continue.
                if n as usize != bytes.len() {
                    let e = std::io::Error::other(format!("short write: {n} of {} bytes", bytes.len()));
                    return Err(EngineError::io("write", &self.path, e));
                }
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(EngineError::io("write", &self.path, e));
            }
        }
    }

    fn sync_data_inline(&self) -> Result<()> {
        loop {
            // SAFETY: a plain system call on an open fd.
            if unsafe { libc::fdatasync(self.file.as_raw_fd()) } == 0 {
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(EngineError::io("fdatasync", &self.path, e));
            }
        }
    }

    async fn read_at(&self, pos: u64, len: usize) -> Result<Bytes> {
        let r = self.file.read_at(pos, len).await.map_err(|e| EngineError::io("read", &self.path, e.into()))?;
        Ok(Bytes::copy_from_slice(&r))
    }

    async fn sync_data(&self) -> Result<()> {
        self.file.fdatasync().await.map_err(|e| EngineError::io("fdatasync", &self.path, e.into()))
    }

    async fn allocate(&self, len: u64) -> Result<()> {
        self.file.pre_allocate(len, false).await.map_err(|e| EngineError::io("fallocate", &self.path, e.into()))
    }

    async fn truncate(&self, len: u64) -> Result<()> {
        self.file.truncate(len).await.map_err(|e| EngineError::io("truncate", &self.path, e.into()))?;
        self.sync_data().await
    }

    async fn size(&self) -> Result<u64> {
        self.file.file_size().await.map_err(|e| EngineError::io("stat", &self.path, e.into()))
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

fn sync_dir_blocking(dir: &Path) -> Result<()> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| EngineError::io("fsync dir", dir, e))
}

impl Storage for DmaStorage {
    type File = DmaSegment;

    async fn open_segment(&self, path: &Path, create: bool) -> Result<DmaSegment> {
        self.prime().await?;
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .dma_open(path)
            .await
            .map_err(|e| EngineError::io("open", path, e.into()))?;
        if !existed {
            if let Some(dir) = path.parent() {
                self.sync_dir(dir).await?;
            }
        }
        Ok(DmaSegment { file, path: path.to_path_buf() })
    }

    async fn read_file(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        let path = path.to_path_buf();
        self.off_core(move || match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(EngineError::io("read", &path, e)),
        })
        .await
    }

    async fn write_file_atomic(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let (path, bytes) = (path.to_path_buf(), bytes.to_vec());
        self.off_core(move || {
            let dir = path.parent().unwrap_or(Path::new("."));
            let tmp = path.with_extension("tmp");
            let mut f = std::fs::File::create(&tmp).map_err(|e| EngineError::io("create", &tmp, e))?;
            f.write_all(&bytes).map_err(|e| EngineError::io("write", &tmp, e))?;
            f.sync_all().map_err(|e| EngineError::io("fsync", &tmp, e))?;
            drop(f);
            std::fs::rename(&tmp, &path).map_err(|e| EngineError::io("rename", &path, e))?;
            sync_dir_blocking(dir)
        })
        .await
    }

    async fn list_dir(&self, path: &Path) -> Result<Vec<String>> {
        let path = path.to_path_buf();
        self.off_core(move || {
            let rd = match std::fs::read_dir(&path) {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(EngineError::io("list", &path, e)),
            };
            let mut names = Vec::new();
            for entry in rd {
                let entry = entry.map_err(|e| EngineError::io("list", &path, e))?;
                if let Some(n) = entry.file_name().to_str() {
                    names.push(n.to_owned());
                }
            }
            names.sort();
            Ok(names)
        })
        .await
    }

    async fn create_dir_all(&self, path: &Path) -> Result<()> {
        let path = path.to_path_buf();
        self.off_core(move || std::fs::create_dir_all(&path).map_err(|e| EngineError::io("mkdir", &path, e))).await
    }

    async fn remove_file(&self, path: &Path) -> Result<()> {
        let path = path.to_path_buf();
        self.off_core(move || match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(EngineError::io("remove", &path, e)),
        })
        .await
    }

    async fn remove_dir_all(&self, path: &Path) -> Result<()> {
        let path = path.to_path_buf();
        self.off_core(move || match std::fs::remove_dir_all(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(EngineError::io("remove", &path, e)),
        })
        .await
    }

    async fn sync_dir(&self, dir: &Path) -> Result<()> {
        let dir = dir.to_path_buf();
        self.off_core(move || sync_dir_blocking(&dir)).await
    }
}
