//! An in-memory [`Storage`] for tests that injects the failures real disks
//! have: torn writes at a crash, bit flips, I/O errors, and a crash at a
//! chosen operation.
//!
//! Model: every file has a durable image and a current image. Writes change
//! the current image and are remembered as pending until `sync_data`, which
//! applies to the durable image those that landed before it started (with
//! write yields on, a sync takes its time, and writes landing meanwhile
//! stay pending). [`SimStorage::crash`] returns the
//! store as a restarted process would find it: the durable image plus, for
//! each pending write, a seeded random subset of its 512-byte sectors.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::Bytes;

use super::{SegmentFile, Storage, WriteBuf};
use crate::error::{EngineError, Result};

const SECTOR: usize = 512;

/// A deterministic random source (splitmix64) so failures replay by seed.
#[derive(Clone, Debug)]
pub struct SimRng(u64);

impl SimRng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

#[derive(Clone, Debug, Default)]
struct SimFile {
    durable: Vec<u8>,
    current: Vec<u8>,
    /// Writes not yet synced, oldest first: (write number, offset, bytes).
    pending: Vec<(u64, u64, Vec<u8>)>,
    /// Writes issued to this file so far (numbers the pending ones).
    writes: u64,
}

#[derive(Debug)]
struct SimState {
    files: BTreeMap<PathBuf, SimFile>,
    dirs: BTreeMap<PathBuf, ()>,
    rng: SimRng,
    /// Operations left before the simulated process dies; `None` = never.
    ops_until_crash: Option<u64>,
    crashed: bool,
    fail_next_sync: bool,
    fail_next_write: bool,
    /// Most times a write of 64 KiB or less yields to the executor before it
    /// lands (a seeded random count, more for larger writes), so that
    /// concurrent writes interleave and complete out of order, as on a real
    /// device.
    write_yields: u32,
    syncs: u64,
    /// Of those, the ones made with `sync_data_inline`.
    inline_syncs: u64,
}

/// The in-memory store. Clones share state.
#[derive(Clone, Debug)]
pub struct SimStorage(Rc<RefCell<SimState>>);

impl SimStorage {
    pub fn new(seed: u64) -> Self {
        Self(Rc::new(RefCell::new(SimState {
            files: BTreeMap::new(),
            dirs: BTreeMap::new(),
            rng: SimRng::new(seed),
            ops_until_crash: None,
            crashed: false,
            fail_next_sync: false,
            fail_next_write: false,
            write_yields: 0,
            syncs: 0,
            inline_syncs: 0,
        })))
    }

    /// After `ops` more storage operations, every operation fails as if the
    /// process had died: nothing more reaches the "disk".
    pub fn crash_after_ops(&self, ops: u64) {
        self.0.borrow_mut().ops_until_crash = Some(ops);
    }

    pub fn fail_next_sync(&self) {
        self.0.borrow_mut().fail_next_sync = true;
    }

    /// Makes every later write yield up to `n` times per 64 KiB before it
    /// lands.
    pub fn set_write_yields(&self, n: u32) {
        self.0.borrow_mut().write_yields = n;
    }

    /// Lets a write of `len` bytes take its time (see `write_yields`).
    async fn take_time(&self, len: usize) {
        let yields = {
            let mut s = self.0.borrow_mut();
            // Larger writes take longer, as on a device.
            let most = u64::from(s.write_yields) * (len as u64).div_ceil(64 * 1024);
            // No draw without yields: seeded tests keep their random streams.
            if most == 0 {
                return;
            }
            s.rng.below(most + 1)
        };
        for _ in 0..yields {
            crate::shard::yield_once().await;
        }
    }

    pub fn fail_next_write(&self) {
        self.0.borrow_mut().fail_next_write = true;
    }

    /// Number of successful `sync_data` calls so far.
    pub fn sync_count(&self) -> u64 {
        self.0.borrow().syncs
    }

    /// Number of those made inline (`sync_data_inline`).
    pub fn inline_sync_count(&self) -> u64 {
        self.0.borrow().inline_syncs
    }

    /// The store a restarted process finds: durable images plus a random
    /// subset of the sectors of writes that were never synced.
    pub fn crash(&self) -> SimStorage {
        let mut s = self.0.borrow_mut();
        let mut rng = s.rng.clone();
        let mut files = BTreeMap::new();
        for (path, f) in &s.files {
            let mut image = f.durable.clone();
            for (_, pos, data) in &f.pending {
                for (i, sector) in data.chunks(SECTOR).enumerate() {
                    if rng.below(2) == 0 {
                        continue;
                    }
                    let at = *pos as usize + i * SECTOR;
                    if image.len() < at + sector.len() {
                        image.resize(at + sector.len(), 0);
                    }
                    image[at..at + sector.len()].copy_from_slice(sector);
                }
            }
            files.insert(path.clone(), SimFile { durable: image.clone(), current: image, ..SimFile::default() });
        }
        s.rng = rng.clone();
        SimStorage(Rc::new(RefCell::new(SimState {
            files,
            dirs: s.dirs.clone(),
            rng,
            ops_until_crash: None,
            crashed: false,
            fail_next_sync: false,
            fail_next_write: false,
            write_yields: 0,
            syncs: 0,
            inline_syncs: 0,
        })))
    }

    /// Current (not necessarily durable) contents of a file.
    pub fn file_bytes(&self, path: &Path) -> Option<Vec<u8>> {
        self.0.borrow().files.get(path).map(|f| f.current.clone())
    }

    /// Replaces a file's contents, durable at once (for planting damage).
    pub fn set_file_bytes(&self, path: &Path, bytes: Vec<u8>) {
        let mut s = self.0.borrow_mut();
        let f = s.files.entry(path.to_path_buf()).or_default();
        f.durable = bytes.clone();
        f.current = bytes;
        f.pending.clear();
    }

    /// Deletes a file at once, outside any simulated process.
    pub fn remove_file_now(&self, path: &Path) {
        self.0.borrow_mut().files.remove(path);
    }

    /// Flips one bit of a file, durably (media corruption).
    pub fn flip_bit(&self, path: &Path, byte: usize, bit: u8) {
        let mut s = self.0.borrow_mut();
        if let Some(f) = s.files.get_mut(path) {
            if let Some(b) = f.durable.get_mut(byte) {
                *b ^= 1 << (bit % 8);
            }
            if let Some(b) = f.current.get_mut(byte) {
                *b ^= 1 << (bit % 8);
            }
        }
    }

    /// Paths of every file, sorted.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.0.borrow().files.keys().cloned().collect()
    }

    fn tick(&self, op: &'static str, path: &Path) -> Result<()> {
        let mut s = self.0.borrow_mut();
        if let Some(n) = s.ops_until_crash.as_mut() {
            if *n == 0 {
                s.crashed = true;
            } else {
                *n -= 1;
            }
        }
        if s.crashed {
            return Err(EngineError::io(op, path, std::io::Error::other("simulated crash")));
        }
        Ok(())
    }
}

/// A plain heap buffer.
pub struct SimBuf(Vec<u8>);

impl AsRef<[u8]> for SimBuf {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl AsMut<[u8]> for SimBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl WriteBuf for SimBuf {}

/// A handle to a file of a [`SimStorage`].
pub struct SimSegment {
    store: SimStorage,
    path: PathBuf,
}

impl SimSegment {
    fn with<T>(&self, f: impl FnOnce(&mut SimFile) -> T) -> Result<T> {
        let mut s = self.store.0.borrow_mut();
        match s.files.get_mut(&self.path) {
            Some(file) => Ok(f(file)),
            None => Err(EngineError::io("access", &self.path, std::io::Error::from(std::io::ErrorKind::NotFound))),
        }
    }

    /// A write reaching the file: readable at once, durable at a later sync.
    fn land_write(&self, buf: SimBuf, pos: u64) -> Result<()> {
        {
            let mut s = self.store.0.borrow_mut();
            if std::mem::take(&mut s.fail_next_write) {
                return Err(EngineError::io("write", &self.path, std::io::Error::other("injected write error")));
            }
        }
        self.with(|f| {
            let end = pos as usize + buf.0.len();
            if f.current.len() < end {
                f.current.resize(end, 0);
            }
            f.current[pos as usize..end].copy_from_slice(&buf.0);
            f.writes += 1;
            f.pending.push((f.writes, pos, buf.0));
        })
    }

    fn take_sync_failure(&self) -> Result<()> {
        if std::mem::take(&mut self.store.0.borrow_mut().fail_next_sync) {
            return Err(EngineError::io("fdatasync", &self.path, std::io::Error::other("injected sync error")));
        }
        Ok(())
    }

    /// Makes the writes numbered up to `covered` durable.
    fn make_durable(&self, covered: u64) -> Result<()> {
        if self.store.0.borrow().crashed {
            return Err(EngineError::io("fdatasync", &self.path, std::io::Error::other("simulated crash")));
        }
        self.store.0.borrow_mut().syncs += 1;
        self.with(|f| {
            let landed = f.pending.partition_point(|(n, _, _)| *n <= covered);
            for (_, pos, data) in f.pending.drain(..landed) {
                let end = pos as usize + data.len();
                if f.durable.len() < end {
                    f.durable.resize(end, 0);
                }
                f.durable[pos as usize..end].copy_from_slice(&data);
            }
        })
    }
}

impl SegmentFile for SimSegment {
    type Buf = SimBuf;

    fn alloc_buf(&self, len: usize) -> SimBuf {
        assert_eq!(len % crate::limits::DMA_ALIGNMENT, 0, "unaligned buffer");
        SimBuf(vec![0; len])
    }

    async fn write_at(&self, buf: SimBuf, pos: u64) -> Result<()> {
        assert_eq!(pos % crate::limits::DMA_ALIGNMENT as u64, 0, "unaligned write");
        self.store.tick("write", &self.path)?;
        self.store.take_time(buf.0.len()).await;
        self.land_write(buf, pos)
    }

    fn write_at_inline(&self, buf: SimBuf, pos: u64) -> Result<()> {
        assert_eq!(pos % crate::limits::DMA_ALIGNMENT as u64, 0, "unaligned write");
        self.store.tick("write", &self.path)?;
        self.land_write(buf, pos)
    }

    async fn read_at(&self, pos: u64, len: usize) -> Result<Bytes> {
        self.store.tick("read", &self.path)?;
        self.with(|f| {
            let start = (pos as usize).min(f.current.len());
            let end = (start + len).min(f.current.len());
            Bytes::copy_from_slice(&f.current[start..end])
        })
    }

    async fn sync_data(&self) -> Result<()> {
        self.store.tick("fdatasync", &self.path)?;
        self.take_sync_failure()?;
        // A sync covers the writes that landed before it started; with write
        // yields on it takes its time too, and writes landing meanwhile may
        // miss it (they stay pending, as on a device).
        let covered = self.with(|f| f.writes)?;
        self.store.take_time(64 * 1024).await;
        self.make_durable(covered)
    }

    fn sync_data_inline(&self) -> Result<()> {
        self.store.tick("fdatasync", &self.path)?;
        self.take_sync_failure()?;
        let covered = self.with(|f| f.writes)?;
        self.make_durable(covered)?;
        self.store.0.borrow_mut().inline_syncs += 1;
        Ok(())
    }

    async fn allocate(&self, len: u64) -> Result<()> {
        self.store.tick("fallocate", &self.path)?;
        self.with(|f| {
            let len = len as usize;
            if f.current.len() < len {
                f.current.resize(len, 0);
            }
            if f.durable.len() < len {
                f.durable.resize(len, 0);
            }
        })
    }

    async fn truncate(&self, len: u64) -> Result<()> {
        self.store.tick("truncate", &self.path)?;
        self.with(|f| {
            f.current.truncate(len as usize);
            f.durable.truncate(len as usize);
            for (_, pos, data) in &mut f.pending {
                let keep = (len as usize).saturating_sub(*pos as usize).min(data.len());
                data.truncate(keep);
            }
            f.pending.retain(|(_, _, d)| !d.is_empty());
        })
    }

    async fn size(&self) -> Result<u64> {
        self.with(|f| f.current.len() as u64)
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Storage for SimStorage {
    type File = SimSegment;

    async fn open_segment(&self, path: &Path, create: bool) -> Result<SimSegment> {
        self.tick("open", path)?;
        let mut s = self.0.borrow_mut();
        if !s.files.contains_key(path) {
            if !create {
                return Err(EngineError::io("open", path, std::io::Error::from(std::io::ErrorKind::NotFound)));
            }
            s.files.insert(path.to_path_buf(), SimFile::default());
        }
        Ok(SimSegment { store: self.clone(), path: path.to_path_buf() })
    }

    async fn read_file(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        self.tick("read", path)?;
        Ok(self.0.borrow().files.get(path).map(|f| f.current.clone()))
    }

    async fn write_file_atomic(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        self.tick("write", path)?;
        // Temp file, syncs and rename: several device round trips.
        self.take_time(4 * 64 * 1024).await;
        let mut s = self.0.borrow_mut();
        if s.crashed {
            // The process died before the rename: the old file stays.
            return Err(EngineError::io("rename", path, std::io::Error::other("simulated crash")));
        }
        s.files.insert(
            path.to_path_buf(),
            SimFile { durable: bytes.to_vec(), current: bytes.to_vec(), ..SimFile::default() },
        );
        Ok(())
    }

    async fn list_dir(&self, path: &Path) -> Result<Vec<String>> {
        self.tick("list", path)?;
        let s = self.0.borrow();
        let mut names: Vec<String> = s
            .files
            .keys()
            .chain(s.dirs.keys())
            .filter(|p| p.parent() == Some(path))
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn create_dir_all(&self, path: &Path) -> Result<()> {
        self.tick("mkdir", path)?;
        let mut s = self.0.borrow_mut();
        let mut p = Some(path);
        while let Some(dir) = p {
            if dir.as_os_str().is_empty() {
                break;
            }
            s.dirs.insert(dir.to_path_buf(), ());
            p = dir.parent();
        }
        Ok(())
    }

    async fn remove_file(&self, path: &Path) -> Result<()> {
        self.tick("remove", path)?;
        self.0.borrow_mut().files.remove(path);
        Ok(())
    }

    async fn remove_dir_all(&self, path: &Path) -> Result<()> {
        self.tick("remove", path)?;
        let mut s = self.0.borrow_mut();
        s.files.retain(|p, _| !p.starts_with(path));
        s.dirs.retain(|p, _| !p.starts_with(path));
        Ok(())
    }

    async fn sync_dir(&self, dir: &Path) -> Result<()> {
        self.tick("fsync", dir)
    }
}
