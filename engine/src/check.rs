//! Offline verification of a data directory (`shoal check`): every frame of
//! every segment (CRCs, counter order), every sealed segment's index
//! against a scan, and counter order across segments. Read-only; repairing
//! a torn tail is what opening the engine does (see [`crate::shard`]).

use std::path::Path;

use crate::catalog::Catalog;
use crate::error::Result;
use crate::segment::{index_file_name, log_path, scan_segment, ScanStop, SegmentSummary, ShardFiles, SEGMENT_MISSING};
use crate::shard::SavedLease;
use crate::storage::{SegmentFile, Storage};

/// What a check found in one shard.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardCheck {
    pub stream: String,
    pub shard: u32,
    pub segments: usize,
    /// Bytes of valid frames.
    pub bytes: u64,
    /// Problems: (segment file, offset, what).
    pub damage: Vec<(String, u64, String)>,
    /// Every problem is repairable without losing a valid frame: a torn
    /// tail of the last segment (opening the engine truncates it) or a bad
    /// index (rebuilt by scanning). See [`repair_data_dir`].
    pub repairable: bool,
    /// Index files to delete so that opening rebuilds them.
    pub bad_indexes: Vec<std::path::PathBuf>,
}

/// What a check of a whole data directory found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub shards: Vec<ShardCheck>,
}

impl CheckReport {
    pub fn damaged(&self) -> impl Iterator<Item = &ShardCheck> {
        self.shards.iter().filter(|s| !s.damage.is_empty())
    }

    pub fn is_clean(&self) -> bool {
        self.damaged().next().is_none()
    }
}

/// Verifies every shard of every stream in the catalog of `data_dir`.
pub async fn check_data_dir<S: Storage>(storage: S, data_dir: &Path) -> Result<CheckReport> {
    let catalog = Catalog::load(storage.clone(), data_dir.to_path_buf()).await?;
    let snapshot = catalog.snapshot();
    let mut report = CheckReport::default();
    for stream in &snapshot.streams {
        for shard in &stream.shards {
            let dir = stream.shard_dir(data_dir, shard.index);
            report.shards.push(check_shard(&storage, &dir, &stream.name, shard.index).await?);
        }
    }
    Ok(report)
}

async fn check_shard<S: Storage>(storage: &S, dir: &Path, stream: &str, shard: u32) -> Result<ShardCheck> {
    let ShardFiles { bases, orphan_indexes } = ShardFiles::from_names(&storage.list_dir(dir).await?);
    let mut out = ShardCheck { stream: stream.to_owned(), shard, segments: bases.len(), ..ShardCheck::default() };
    for base in orphan_indexes {
        out.damage.push((log_path(dir, base).display().to_string(), 0, SEGMENT_MISSING.into()));
    }
    let mut only_tail = out.damage.is_empty();
    let mut prev_end = 0u64;
    for (i, &base) in bases.iter().enumerate() {
        let path = log_path(dir, base);
        let name = path.display().to_string();
        let last = i + 1 == bases.len();
        let file = storage.open_segment(&path, false).await?;
        let scan = scan_segment(&file, base).await?;
        out.bytes += scan.summary.data_len;
        if base < prev_end {
            out.damage.push((name.clone(), 0, format!("starts at counter {base}, before the previous end {prev_end}")));
            only_tail = false;
        }
        prev_end = scan.summary.end_counter;
        // The tail segment's checkpoint: a prefix known durable (and so
        // acknowledged). Recovery trusts it and scans only what follows.
        let checkpoint = if last {
            let idx_path = path.with_file_name(index_file_name(base));
            match storage.read_file(&idx_path).await? {
                None => None,
                Some(bytes) => {
                    let decoded = SegmentSummary::decode(&bytes, base);
                    if decoded.is_none() {
                        out.damage.push((idx_path.display().to_string(), 0, "checkpoint index damaged".into()));
                        out.bad_indexes.push(idx_path);
                    }
                    decoded
                }
            }
        } else {
            None
        };
        if let Some(cp) = checkpoint.as_ref().filter(|cp| cp.data_len > scan.file_size) {
            out.damage.push((
                name.clone(),
                scan.file_size,
                format!("segment shorter than its checkpoint ({} bytes): acknowledged records lost", cp.data_len),
            ));
        }
        if let ScanStop::Damaged { offset, reason } = scan.stop {
            match &checkpoint {
                // Not a torn tail: recovery would not even see it, and no
                // repair can bring the records back.
                Some(cp) if offset < cp.data_len && cp.data_len <= scan.file_size => {
                    out.damage.push((
                        name.clone(),
                        offset,
                        format!("{reason}, inside the checkpointed (acknowledged) part of the tail segment"),
                    ));
                    only_tail = false;
                }
                _ => {
                    out.damage.push((name.clone(), offset, reason.to_string()));
                    only_tail &= last;
                }
            }
        } else if last && scan.file_size > scan.summary.data_len {
            // After the last frame: zero padding or space allocated ahead,
            // unless something was written there.
            let rest = file.read_at(scan.summary.data_len, (scan.file_size - scan.summary.data_len) as usize).await?;
            if let Some(at) = rest.iter().position(|&b| b != 0) {
                out.damage.push((name.clone(), scan.summary.data_len + at as u64, "bytes after the last frame".into()));
            }
        }
        if !last {
            let idx_path = path.with_file_name(index_file_name(base));
            match storage.read_file(&idx_path).await? {
                None => {} // rebuilt by scanning at open: not damage
                Some(bytes) => match SegmentSummary::decode(&bytes, base) {
                    Some(idx) if idx == scan.summary => {}
                    Some(_) => {
                        out.damage.push((idx_path.display().to_string(), 0, "index disagrees with the segment".into()));
                        out.bad_indexes.push(idx_path);
                    }
                    None => {
                        out.damage.push((idx_path.display().to_string(), 0, "index damaged".into()));
                        out.bad_indexes.push(idx_path);
                    }
                },
            }
        }
    }
    let lease_path = dir.join(crate::shard::LEASE_FILE_NAME);
    if SavedLease::decode(storage.read_file(&lease_path).await?.as_deref()) == SavedLease::Damaged {
        // Repaired at open: a new lease one lease past the log's end.
        out.damage.push((lease_path.display().to_string(), 0, crate::shard::LEASE_DAMAGED.into()));
    }
    out.repairable = !out.damage.is_empty() && only_tail;
    Ok(out)
}

/// Repairs what can be repaired without losing a valid frame: deletes bad
/// index files, then opens every shard the way the server's startup does
/// (torn tails are truncated at the last valid frame, indexes rebuilt),
/// and closes it cleanly.
pub async fn repair_data_dir<S: Storage, C: crate::clock::Clock>(
    storage: S,
    clock: C,
    config: &crate::config::EngineConfig,
    report: &CheckReport,
) -> Result<()> {
    for shard in report.damaged() {
        for idx in &shard.bad_indexes {
            storage.remove_file(idx).await?;
        }
    }
    let (engine, _) = crate::local::LocalEngine::open(storage, clock, config).await?;
    engine.shutdown().await
}
