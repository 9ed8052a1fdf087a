//! The storage seam: the only way the engine touches files.
//!
//! Shard logic is written against these traits. Production implements them
//! over glommio's direct-I/O `DmaFile` ([`dma`]); tests use an in-memory
//! store that injects torn writes, bit flips and crashes ([`sim`]). Another
//! io_uring runtime would be one more implementation, with no change to the
//! shard logic.
//!
//! Contract for segment files (what the appender relies on):
//! * `write_at` positions and buffer lengths are multiples of
//!   [`DMA_ALIGNMENT`](crate::limits::DMA_ALIGNMENT).
//! * A write is durable only after a later `sync_data` on the same file
//!   returns `Ok`. Until then a crash may keep any subset of its 512-byte
//!   sectors (each sector is atomic: old or new content, never a mix).
//! * `read_at` may return fewer bytes than asked at end of file.
//! * `write_at_inline` and `sync_data_inline` are the same operations as
//!   plain system calls on the calling thread: they block the core for the
//!   device's time, and are for small group commits on a core committing
//!   nothing else (see `shard::commit_path`).
//!
//! Files are single-owner objects of the core that opened them (`!Send` is
//! fine): the futures here are not required to be `Send`.

use std::future::Future;
use std::path::Path;

use bytes::Bytes;

use crate::error::Result;

pub mod dma;
pub mod sim;

/// A buffer the file can write without another copy (for glommio, memory
/// from the executor's DMA pool).
pub trait WriteBuf: AsRef<[u8]> + AsMut<[u8]> {}

/// An open segment file.
pub trait SegmentFile: 'static {
    type Buf: WriteBuf;

    /// An aligned buffer of `len` bytes (a multiple of the alignment). Its
    /// contents are unspecified: the caller fills every byte it writes.
    fn alloc_buf(&self, len: usize) -> Self::Buf;

    fn write_at(&self, buf: Self::Buf, pos: u64) -> impl Future<Output = Result<()>>;

    /// Reads up to `len` bytes at `pos` (fewer at end of file).
    fn read_at(&self, pos: u64, len: usize) -> impl Future<Output = Result<Bytes>>;

    fn sync_data(&self) -> impl Future<Output = Result<()>>;

    /// `write_at`, blocking the calling thread until the bytes are written.
    fn write_at_inline(&self, buf: Self::Buf, pos: u64) -> Result<()>;

    /// `sync_data`, blocking the calling thread until the device has the data.
    fn sync_data_inline(&self) -> Result<()>;

    /// Makes the file at least `len` bytes long with allocated blocks that
    /// read as zeros (fallocate). Appends into allocated space then need no
    /// block allocation or size change per sync.
    fn allocate(&self, len: u64) -> impl Future<Output = Result<()>>;

    /// Cuts the file to `len` bytes (used to drop a torn tail).
    fn truncate(&self, len: u64) -> impl Future<Output = Result<()>>;

    fn size(&self) -> impl Future<Output = Result<u64>>;

    fn path(&self) -> &Path;
}

/// A directory tree of files.
pub trait Storage: Clone + 'static {
    type File: SegmentFile;

    /// Opens a segment file for reading and writing, creating it if
    /// `create` is set. A newly created file's directory entry is durable
    /// when this returns.
    fn open_segment(&self, path: &Path, create: bool) -> impl Future<Output = Result<Self::File>>;

    /// Reads a small metadata file whole; `None` if it does not exist.
    fn read_file(&self, path: &Path) -> impl Future<Output = Result<Option<Vec<u8>>>>;

    /// Replaces a small metadata file atomically and durably: write a temp
    /// file, sync it, rename it over `path`, sync the directory.
    fn write_file_atomic(&self, path: &Path, bytes: &[u8]) -> impl Future<Output = Result<()>>;

    /// Names of the entries in a directory (empty if it does not exist).
    fn list_dir(&self, path: &Path) -> impl Future<Output = Result<Vec<String>>>;

    fn create_dir_all(&self, path: &Path) -> impl Future<Output = Result<()>>;

    /// Removes a file; a missing file is not an error.
    fn remove_file(&self, path: &Path) -> impl Future<Output = Result<()>>;

    /// Removes a directory tree; a missing directory is not an error.
    fn remove_dir_all(&self, path: &Path) -> impl Future<Output = Result<()>>;

    /// Makes earlier creations, renames and removals in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> impl Future<Output = Result<()>>;
}
