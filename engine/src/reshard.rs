//! Resharding as pure changes to a stream's catalog entry: split, merge,
//! and UpdateShardCount as a plan of splits and merges. The caller closes
//! the parent shards first (their ending counters come from their logs)
//! and persists the result in one catalog write, so a crash leaves the
//! stream either as it was or as it is after the reshard.
//!
//! Children get the next shard indexes and start counting where their
//! parents ended (the larger end, for a merge), so a key's records keep
//! increasing sequence numbers across a reshard. Parents close and
//! children open at the same `now_ms`, so at any instant the open shards
//! tile the key space once (ListShards' timestamp filters rely on it). Placement follows the
//! usual rule: shard `i` lives on core `(stream tag + i) mod cores`.

use std::collections::BTreeMap;

use crate::catalog::{ShardMeta, StreamMeta};
use crate::error::{EngineError, Result};
use crate::model::shard_id;
use crate::routing::HashKeyRange;

/// Checks a split and returns the two children's ranges.
pub fn check_split(
    stream: &StreamMeta,
    shard: u32,
    new_starting_hash_key: u128,
) -> Result<(HashKeyRange, HashKeyRange)> {
    let parent = open_shard(stream, shard)?;
    let (start, end) = (parent.hash_start, parent.hash_end);
    // Kinesis: StartingHashKey + 1 < NewStartingHashKey < EndingHashKey.
    if !(new_starting_hash_key > start.saturating_add(1) && new_starting_hash_key < end) {
        return Err(EngineError::InvalidArgument(format!(
            "NewStartingHashKey {new_starting_hash_key} used in SplitShard() on shard {} in stream {} is not both \
             greater than one plus the shard's StartingHashKey {start} and less than the shard's EndingHashKey {end}.",
            shard_id(shard),
            stream.name
        )));
    }
    Ok((HashKeyRange { start, end: new_starting_hash_key - 1 }, HashKeyRange { start: new_starting_hash_key, end }))
}

/// Checks a merge: `shard`'s range must end just before `adjacent`'s.
pub fn check_merge(stream: &StreamMeta, shard: u32, adjacent: u32) -> Result<HashKeyRange> {
    let a = open_shard(stream, shard)?;
    let b = open_shard(stream, adjacent)?;
    if a.hash_end.checked_add(1) != Some(b.hash_start) {
        return Err(EngineError::InvalidArgument(format!(
            "Shards {} and {} in stream {} are not an adjacent pair of shards eligible for merging",
            shard_id(shard),
            shard_id(adjacent),
            stream.name
        )));
    }
    Ok(HashKeyRange { start: a.hash_start, end: b.hash_end })
}

/// Logs a finished reshard (one line per reshard): which shards closed,
/// which were added, and how many are open now.
pub fn log_resharded(kind: &str, before: &StreamMeta, after: &StreamMeta) {
    let closed: Vec<String> = after
        .shards
        .iter()
        .filter(|s| !s.is_open() && before.shard(s.index).is_some_and(|b| b.is_open()))
        .map(|s| shard_id(s.index))
        .collect();
    let added: Vec<String> =
        after.shards.iter().filter(|s| before.shard(s.index).is_none()).map(|s| shard_id(s.index)).collect();
    let open = after.shards.iter().filter(|s| s.is_open()).count();
    tracing::info!(
        stream = %after.name,
        kind,
        closed = %closed.join(","),
        added = %added.join(","),
        open_shards = open,
        "stream resharded"
    );
}

fn open_shard(stream: &StreamMeta, index: u32) -> Result<&ShardMeta> {
    let s = stream.shard(index).ok_or_else(|| {
        EngineError::NotFound(format!("Shard {} in stream {} does not exist", shard_id(index), stream.name))
    })?;
    if !s.is_open() {
        return Err(EngineError::InvalidArgument(format!(
            "Shard {} in stream {} is closed and cannot be resharded",
            shard_id(index),
            stream.name
        )));
    }
    Ok(s)
}

fn next_index(stream: &StreamMeta) -> u32 {
    stream.shards.len() as u32
}

/// Closes `shard` at `end` (one past its last record) and adds its two
/// children, all at `now_ms`. Returns their indexes.
pub fn apply_split(
    stream: &mut StreamMeta,
    shard: u32,
    new_starting_hash_key: u128,
    end: u64,
    now_ms: u64,
) -> Result<(u32, u32)> {
    let (low, high) = check_split(stream, shard, new_starting_hash_key)?;
    let now_ms = reshard_time(stream, now_ms);
    Ok(push_split(stream, shard, low, high, end, now_ms))
}

/// A split anywhere strictly inside the shard's range: UpdateShardCount
/// cuts at exact even boundaries, which may lie one key from an old one
/// (Kinesis' SplitShard rule is for requests; the ranges stay valid).
fn split_at(stream: &mut StreamMeta, shard: u32, key: u128, end: u64, now_ms: u64) -> (u32, u32) {
    let s = stream.shard(shard).expect("an open shard");
    assert!(s.hash_start < key && key <= s.hash_end, "a split key lies strictly inside");
    let low = HashKeyRange { start: s.hash_start, end: key - 1 };
    let high = HashKeyRange { start: key, end: s.hash_end };
    push_split(stream, shard, low, high, end, now_ms)
}

fn push_split(
    stream: &mut StreamMeta,
    shard: u32,
    low: HashKeyRange,
    high: HashKeyRange,
    end: u64,
    now_ms: u64,
) -> (u32, u32) {
    let first = next_index(stream);
    close(stream, shard, end, now_ms);
    for (i, range) in [low, high].into_iter().enumerate() {
        stream.shards.push(ShardMeta {
            index: first + i as u32,
            parent: Some(shard),
            adjacent_parent: None,
            hash_start: range.start,
            hash_end: range.end,
            starting_counter: end,
            ending_counter: None,
            created_ms: now_ms,
            closed_ms: None,
        });
    }
    (first, first + 1)
}

/// Closes `shard` and `adjacent` at their ends and adds their child, all
/// at `now_ms`.
pub fn apply_merge(
    stream: &mut StreamMeta,
    shard: u32,
    adjacent: u32,
    end: u64,
    adjacent_end: u64,
    now_ms: u64,
) -> Result<u32> {
    let range = check_merge(stream, shard, adjacent)?;
    let now_ms = reshard_time(stream, now_ms);
    let child = next_index(stream);
    close(stream, shard, end, now_ms);
    close(stream, adjacent, adjacent_end, now_ms);
    stream.shards.push(ShardMeta {
        index: child,
        parent: Some(shard),
        adjacent_parent: Some(adjacent),
        hash_start: range.start,
        hash_end: range.end,
        starting_counter: end.max(adjacent_end),
        ending_counter: None,
        created_ms: now_ms,
        closed_ms: None,
    });
    Ok(child)
}

fn close(stream: &mut StreamMeta, shard: u32, end: u64, now_ms: u64) {
    let s = stream.shards.get_mut(shard as usize).expect("checked to exist");
    assert!(s.is_open(), "only open shards close");
    assert!(end >= s.starting_counter, "a shard ends at or after its start");
    assert!(now_ms >= s.created_ms, "a shard closes at or after it opened");
    s.ending_counter = Some(end);
    s.closed_ms = Some(now_ms);
}

/// `now_ms`, or the stream's last reshard (or creation) if the wall clock
/// has stepped back since: a stream's shard times never go backwards, so
/// no shard closes before it opened.
fn reshard_time(stream: &StreamMeta, now_ms: u64) -> u64 {
    stream.shards.iter().map(|s| s.created_ms).fold(now_ms, u64::max)
}

/// Kinesis' bounds for UpdateShardCount: between half and double the open
/// shard count.
pub fn check_target(stream: &StreamMeta, target: u32) -> Result<()> {
    let open = stream.shards.iter().filter(|s| s.is_open()).count() as u64;
    let target64 = target as u64;
    if target == 0 || target64 > open * 2 || target64 * 2 < open {
        return Err(EngineError::InvalidArgument(format!(
            "UpdateShardCount to {target} shards on stream {} with {open} open shards: the target must be between \
             half and double the current open shard count",
            stream.name
        )));
    }
    Ok(())
}

/// UpdateShardCount with UNIFORM_SCALING: ends with `target` open shards
/// splitting the key space evenly. Done as splits at every missing target
/// boundary, then merges inside every target range (transient shards, as
/// Kinesis makes), so each child has at most two parents. `ends` gives the
/// ending counter of every currently open shard (the caller closed them).
/// Every shard closes and opens at `now_ms`, transient ones included.
pub fn apply_uniform_scaling(
    stream: &mut StreamMeta,
    target: u32,
    ends: &BTreeMap<u32, u64>,
    now_ms: u64,
) -> Result<Vec<u32>> {
    check_target(stream, target)?;
    let now_ms = reshard_time(stream, now_ms);
    let targets = HashKeyRange::even_split(target);
    // Shards still to close, with the counter they end at: transient shards
    // end where they start (they never take a record).
    let mut end_of: BTreeMap<u32, u64> = ends.clone();
    for t in &targets[1..] {
        let boundary = t.start;
        let holder = stream
            .shards
            .iter()
            .find(|s| s.is_open() && s.hash_start < boundary && boundary <= s.hash_end)
            .map(|s| s.index);
        if let Some(shard) = holder {
            let end = *end_of.get(&shard).expect("every open shard has an end");
            let (a, b) = split_at(stream, shard, boundary, end, now_ms);
            end_of.insert(a, end);
            end_of.insert(b, end);
        }
    }
    for t in &targets {
        loop {
            let mut inside: Vec<(u128, u32)> = stream
                .shards
                .iter()
                .filter(|s| s.is_open() && s.hash_start >= t.start && s.hash_end <= t.end)
                .map(|s| (s.hash_start, s.index))
                .collect();
            if inside.len() < 2 {
                break;
            }
            inside.sort_unstable();
            let (a, b) = (inside[0].1, inside[1].1);
            let (ea, eb) = (end_of[&a], end_of[&b]);
            let child = apply_merge(stream, a, b, ea, eb, now_ms)?;
            end_of.insert(child, ea.max(eb));
        }
    }
    let open: Vec<u32> = stream.shards.iter().filter(|s| s.is_open()).map(|s| s.index).collect();
    assert_eq!(open.len(), target as usize, "uniform scaling reaches the target");
    Ok(open)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::catalog::stream_tag;
    use crate::routing::partition_key_hash;
    use crate::throttle::ShardLimits;

    const CREATED_MS: u64 = 1_000;

    fn stream(n: u32) -> StreamMeta {
        let shards = ShardMeta::initial(n, CREATED_MS);
        StreamMeta {
            name: "s".into(),
            incarnation: 1,
            tag: stream_tag("s", 1),
            retention_hours: 24,
            created_ms: CREATED_MS,
            limits: ShardLimits::UNLIMITED,
            shards,
            consumers: Vec::new(),
        }
    }

    /// The open shards tile 0..=2^128-1: sorted, contiguous, no overlap.
    fn assert_tiles(s: &StreamMeta) {
        let mut open: Vec<&ShardMeta> = s.shards.iter().filter(|s| s.is_open()).collect();
        open.sort_by_key(|s| s.hash_start);
        assert_eq!(open.first().map(|s| s.hash_start), Some(0));
        assert_eq!(open.last().map(|s| s.hash_end), Some(u128::MAX));
        for w in open.windows(2) {
            assert_eq!(w[0].hash_end.checked_add(1), Some(w[1].hash_start), "gap or overlap");
        }
    }

    /// The shards open at `ts_ms` (by their recorded times) tile the key
    /// space too: the history has no instant with a gap or an overlap.
    fn assert_tiles_at(s: &StreamMeta, ts_ms: u64) {
        let desc = s.describe();
        let mut open: Vec<HashKeyRange> =
            desc.shards.iter().filter(|d| d.is_open_at(ts_ms)).map(|d| d.hash_key_range).collect();
        open.sort();
        assert_eq!(open.first().map(|r| r.start), Some(0), "at {ts_ms}");
        assert_eq!(open.last().map(|r| r.end), Some(u128::MAX), "at {ts_ms}");
        for w in open.windows(2) {
            assert_eq!(w[0].end.checked_add(1), Some(w[1].start), "gap or overlap at {ts_ms}");
        }
    }

    #[test]
    fn split_and_merge_rules() {
        let mut s = stream(2);
        let mid = s.shards[0].hash_end / 2;
        assert!(check_split(&s, 0, 1).is_err(), "must be above start + 1");
        assert!(check_split(&s, 0, s.shards[0].hash_end).is_err(), "must be below the end");
        let (a, b) = apply_split(&mut s, 0, mid, 10, 2_000).expect("split");
        assert_eq!((a, b), (2, 3));
        assert_eq!(s.shards[0].ending_counter, Some(10));
        assert_eq!(s.shards[2].parent, Some(0));
        assert_eq!(s.shards[3].starting_counter, 10);
        assert!(apply_split(&mut s, 0, mid, 10, 2_000).is_err(), "a closed shard does not split again");
        assert!(check_merge(&s, 3, 2).is_err(), "reversed order is not adjacent");
        assert!(check_merge(&s, 2, 1).is_err(), "not adjacent");
        let c = apply_merge(&mut s, 3, 1, 20, 30, 3_000).expect("merge");
        assert_eq!(s.shards[c as usize].parent, Some(3));
        assert_eq!(s.shards[c as usize].adjacent_parent, Some(1));
        assert_eq!(s.shards[c as usize].starting_counter, 30);
        assert_tiles(&s);

        let times: Vec<(u64, Option<u64>)> = s.shards.iter().map(|s| (s.created_ms, s.closed_ms)).collect();
        assert_eq!(
            times,
            vec![
                (CREATED_MS, Some(2_000)),
                (CREATED_MS, Some(3_000)),
                (2_000, None),
                (2_000, Some(3_000)),
                (3_000, None),
            ],
            "parents close and children open at the reshard's time"
        );
        for ts in [CREATED_MS, 1_999, 2_000, 2_999, 3_000, 9_999] {
            assert_tiles_at(&s, ts);
        }
    }

    #[test]
    fn a_clock_stepped_back_does_not_close_a_shard_before_it_opened() {
        let mut s = stream(1);
        apply_split(&mut s, 0, 1 << 127, 0, 5_000).expect("split");
        apply_split(&mut s, 1, 1 << 126, 0, 4_000).expect("split with the clock stepped back");
        assert_eq!(s.shards[1].closed_ms, Some(5_000), "closed no earlier than it opened");
        assert_eq!(s.shards[3].created_ms, 5_000);
        assert_tiles_at(&s, 5_000);
    }

    #[test]
    fn uniform_scaling_reaches_even_ranges_with_at_most_two_parents() {
        for (from, to) in [(1, 2), (2, 1), (3, 5), (5, 3), (4, 8), (8, 4), (7, 10), (10, 5), (6, 11)] {
            let mut s = stream(from);
            let ends: BTreeMap<u32, u64> = (0..from).map(|i| (i, 100 + i as u64)).collect();
            let open = apply_uniform_scaling(&mut s, to, &ends, 2_000).expect("scaling");
            assert_eq!(open.len(), to as usize);
            let ranges: Vec<HashKeyRange> = open.iter().map(|&i| s.shards[i as usize].range()).collect();
            let mut sorted = ranges.clone();
            sorted.sort();
            assert_eq!(sorted, HashKeyRange::even_split(to), "{from} -> {to}");
            for sh in &s.shards {
                if let Some(p) = sh.parent {
                    let parent_end = s.shards[p as usize].ending_counter.expect("parents are closed");
                    assert!(sh.starting_counter >= parent_end);
                }
            }
            assert_tiles(&s);
            assert_tiles_at(&s, 1_999);
            assert_tiles_at(&s, 2_000);
        }
        assert!(check_target(&stream(4), 9).is_err());
        assert!(check_target(&stream(4), 1).is_err());
    }

    proptest! {
        #[test]
        fn random_splits_and_merges_keep_the_key_space_tiled(ops in prop::collection::vec((any::<bool>(), any::<u64>(), any::<u128>()), 1..60)) {
            let mut s = stream(1);
            let mut now_ms = CREATED_MS;
            for (split, pick, key) in ops {
                // Some reshards share a millisecond.
                now_ms += pick % 2;
                let open: Vec<u32> = s.shards.iter().filter(|s| s.is_open()).map(|s| s.index).collect();
                let shard = open[(pick as usize) % open.len()];
                if split {
                    let meta = s.shards[shard as usize].clone();
                    let width = meta.hash_end - meta.hash_start;
                    if width > 3 {
                        let k = meta.hash_start + 2 + key % (width - 2);
                        apply_split(&mut s, shard, k, 0, now_ms).expect("valid split");
                    }
                } else {
                    let end = s.shards[shard as usize].hash_end;
                    if let Some(next) = s.shards.iter().find(|x| x.is_open() && Some(x.hash_start) == end.checked_add(1)) {
                        let next = next.index;
                        apply_merge(&mut s, shard, next, 0, 0, now_ms).expect("valid merge");
                    }
                }
                assert_tiles(&s);
            }
            for ts in CREATED_MS..=now_ms {
                assert_tiles_at(&s, ts);
            }
            for key in ["a", "b", "user-17", "ü", ""] {
                let h = partition_key_hash(key);
                let n = s.shards.iter().filter(|x| x.is_open() && x.range().contains(h)).count();
                prop_assert_eq!(n, 1, "key {:?} routes to exactly one open shard", key);
            }
        }
    }
}
