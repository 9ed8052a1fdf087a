//! Every limit the engine enforces, in one place, with the reason next to it.
//!
//! Kinesis values come from `../shared/kinesis-reference.md` §2.

/// Direct I/O alignment for every file position and length. The virtio disk
/// reports 512 B logical blocks, but its physical block is 4 KiB and partial
/// physical-block writes cost a read-modify-write, so we align to 4 KiB.
pub const DMA_ALIGNMENT: usize = 4096;

/// Largest data blob of one record (Kinesis classic limit: 1 MiB).
pub const RECORD_DATA_BYTES_MAX: usize = 1024 * 1024;

/// Largest record as Kinesis counts it: data plus partition-key UTF-8 bytes.
/// Bounded by the write budget too: a record over a shard's 1 MiB/s could
/// never be accepted (it would be throttled forever), and it keeps every
/// record within one fan-out event (`subscription::EVENT_BYTES_MAX`).
pub const RECORD_BYTES_MAX: usize = 1024 * 1024;

/// Partition keys are 1..=256 Unicode scalar values (not bytes).
pub const PARTITION_KEY_CHARS_MAX: usize = 256;

/// Upper bound on a partition key's UTF-8 size (256 chars × 4 bytes).
pub const PARTITION_KEY_BYTES_MAX: usize = PARTITION_KEY_CHARS_MAX * 4;

/// Records accepted by one append (PutRecords: 500).
pub const APPEND_RECORDS_MAX: usize = 500;

/// Bytes (keys + data) accepted by one append (PutRecords: 5 MiB).
pub const APPEND_BYTES_MAX: usize = 5 * 1024 * 1024;

/// Records returned by one read (GetRecords: 10,000).
pub const READ_RECORDS_MAX: usize = 10_000;

/// Bytes (keys + data) returned by one read (GetRecords: 10 MiB).
pub const READ_BYTES_MAX: usize = 10 * 1024 * 1024;

/// Stream names: 1..=128 chars of `[a-zA-Z0-9_.-]`.
pub const STREAM_NAME_CHARS_MAX: usize = 128;

/// Retention bounds in hours (Kinesis: 24 default, 24..=8760).
pub const RETENTION_HOURS_DEFAULT: u32 = 24;
pub const RETENTION_HOURS_MIN: u32 = 24;
pub const RETENTION_HOURS_MAX: u32 = 8760;

/// Executors per engine (`cores`; 0 picks one per CPU). Each holds its own
/// DMA buffer pool and thread: far more than any machine's CPUs is a typo.
pub const CORES_MAX: usize = 1024;

/// `SyncPolicy::Interval` bounds: a power loss may lose up to one interval
/// of acknowledged records, so the longest is a minute.
pub const SYNC_INTERVAL_MS_MIN: u64 = 1;
pub const SYNC_INTERVAL_MS_MAX: u64 = 60_000;

/// Open shards per engine (Kinesis' per-account quota in its largest
/// regions: 20,000). Creating or resharding past it is LimitExceeded.
pub const STREAM_SHARDS_MAX: u32 = 20_000;

/// Enhanced fan-out consumers registered per stream (Kinesis: 20).
pub const CONSUMERS_PER_STREAM_MAX: usize = 20;

/// A fan-out subscription ends after this long (Kinesis: 5 minutes); the
/// consumer resubscribes from the continuation sequence number.
pub const SUBSCRIPTION_LIFETIME_MS_DEFAULT: u64 = 5 * 60 * 1000;

/// Subscription lifetime bounds: short enough lifetimes cost a resubscribe
/// every few events; an hour bounds how long a subscription outlives its
/// consumer's interest.
pub const SUBSCRIPTION_LIFETIME_MS_MIN: u64 = 100;
pub const SUBSCRIPTION_LIFETIME_MS_MAX: u64 = 60 * 60 * 1000;

/// Delivery rate per consumer and shard (Kinesis: 2 MiB/s).
pub const SUBSCRIPTION_BYTES_PER_SECOND: u32 = 2 * 1024 * 1024;

/// An idle subscription sends an empty event this often, so the consumer
/// sees its continuation number and that the tip has not moved.
pub const SUBSCRIPTION_HEARTBEAT_MS_DEFAULT: u64 = 1_000;
pub const SUBSCRIPTION_HEARTBEAT_MS_MIN: u64 = 10;
pub const SUBSCRIPTION_HEARTBEAT_MS_MAX: u64 = 60_000;

/// How much of a tail segment after a damaged frame recovery reads to look
/// for intact frames (damage a torn write cannot explain): the default
/// segment size, so a default segment is searched whole.
pub const RECOVERY_SCAN_BYTES_MAX: usize = 128 * 1024 * 1024;

/// Segment size bounds. The minimum keeps tests able to roll often; the
/// maximum keeps one file's sparse index and recovery scan bounded.
pub const SEGMENT_BYTES_MIN: u64 = 16 * DMA_ALIGNMENT as u64;
pub const SEGMENT_BYTES_MAX: u64 = 4 * 1024 * 1024 * 1024;
pub const SEGMENT_BYTES_DEFAULT: u64 = 128 * 1024 * 1024;

/// One sparse index entry per this many bytes of segment (plus the first
/// frame). A lookup then reads at most this much before the wanted record.
pub const INDEX_INTERVAL_BYTES: u64 = 64 * 1024;

/// Disk reads are issued in chunks of this size: large enough to stream at
/// device speed, small enough to bound a reader's memory.
pub const READ_CHUNK_BYTES: usize = 256 * 1024;

/// Maintenance checkpoints a tail segment's index once this much was
/// appended since the last checkpoint: after a crash, recovery re-verifies
/// at most about this much per shard (plus what arrived since).
pub const CHECKPOINT_INTERVAL_BYTES: u64 = 16 * 1024 * 1024;

/// Counters a shard leases ahead of its appends (see `shard::lease`): the
/// most its counters jump at a restart, and one small synced file write per
/// this many records. About 17 minutes of a shard at the Kinesis limit of
/// 1,000 records/s, 17 s at 60,000/s.
pub const COUNTER_LEASE: u64 = 1 << 20;

/// The highest counter a SequenceNumberForOrdering may carry (a higher one
/// is InvalidArgument): far above any a shard reaches by appending, and low
/// enough that the counters after it, their lease and a restart's jump
/// never overflow a u64.
pub const ORDERING_COUNTER_MAX: u64 = u64::MAX - 4 * COUNTER_LEASE;

/// Segment files are allocated ahead of the appends (fallocate) in steps
/// that start here and double up to the segment size: appends into
/// allocated space sync about 1.7× faster here than appends that grow the
/// file (measured by `benches/src/bin/gc_probe.rs`), and a shard's active
/// segment holds at most about twice its data, plus this. Small, because a
/// stream may have thousands of shards that each hold a few records: a
/// 4 MiB first step put 10 GB on disk for 2,561 shards of one record each.
pub const PREALLOCATE_BYTES_MIN: u64 = 64 * 1024;

/// Small groups are written into pages zeroed ahead of them. An fdatasync
/// after writing into fallocated space must commit the file system's
/// journal (the extents turn from unwritten to written); after writing over
/// pages that were already written it only flushes the device: 4 KiB
/// groups synced 6,102/s into zeroed pages and 1,903/s into fallocated ones
/// (`benches/src/bin/gc_probe.rs`). The runway task keeps up to this many
/// zeroed bytes ahead of the appends, refilling when less than half is
/// left, beside the appends (see `shard::runway`); its own sync pays the
/// journal commit.
pub const ZERO_AHEAD_BYTES: u64 = 2 * 1024 * 1024;

/// The runway is as long as the active segment's data so far, within
/// this and [`ZERO_AHEAD_BYTES`]: a shard that wrote a few records zeroes
/// (and allocates) a few pages ahead, not 2 MiB, and a busy one reaches
/// the full runway after its first 2 MiB.
pub const ZERO_AHEAD_BYTES_MIN: u64 = 64 * 1024;

/// Groups up to this size keep the zeroed runway ahead of them; larger ones
/// are bandwidth-bound, their syncs already amortized, and zeroing (every
/// byte written twice) would not pay for itself.
pub const ZERO_AHEAD_GROUP_MAX_BYTES: u64 = 256 * 1024;

/// A shard zeroes ahead at most this many bytes per second, so the bytes
/// written twice stay a small share of the device (1.5% of 2 GB/s) whatever
/// the mix of group sizes; a shard appending faster in small groups runs
/// past its runway into fallocated space, as without zeroing. Without it,
/// a shard whose groups stay just under the size limit (60 KB frames of
/// 100 B records, often alone in a group) would write every byte twice.
pub const ZERO_AHEAD_BYTES_PER_SECOND_MAX: u64 = 32 * 1000 * 1000;

/// Groups up to this size commit inline (a blocking write and fdatasync on
/// the core's thread) when no other shard of the core is committing: the
/// device takes tens of microseconds for them, less than io_uring's round
/// trips cost on the test machine (see `shard::commit_path`). Larger groups
/// are bandwidth-bound and written in parallel chunks through io_uring.
pub const INLINE_COMMIT_BYTES_MAX: u64 = 64 * 1024;

/// The highest inline limit a configuration may set: a group this large
/// holds its core for about a millisecond of device time.
pub const INLINE_COMMIT_BYTES_CAP: u64 = 1024 * 1024;

/// Largest single write of a flush; bigger flushes are cut into chunks
/// written in parallel (see `segment::write`).
pub const WRITE_CHUNK_BYTES: usize = 512 * 1024;

/// Chunk writes of one flush in flight at once: enough to keep the device
/// busy, few enough that their buffers (4 MiB) come from the executor's
/// DMA pool instead of fresh memory.
pub const WRITES_IN_FLIGHT_MAX: usize = 8;

/// Default per-core bound on the in-memory tail cache.
pub const TAIL_CACHE_BYTES_DEFAULT: usize = 64 * 1024 * 1024;

const _: () = assert!(DMA_ALIGNMENT.is_power_of_two());
const _: () = assert!(SEGMENT_BYTES_MIN % DMA_ALIGNMENT as u64 == 0);
const _: () = assert!(SEGMENT_BYTES_DEFAULT % DMA_ALIGNMENT as u64 == 0);
const _: () = assert!(READ_CHUNK_BYTES % DMA_ALIGNMENT == 0);
const _: () = assert!(WRITE_CHUNK_BYTES % DMA_ALIGNMENT == 0);
const _: () = assert!(ZERO_AHEAD_BYTES % DMA_ALIGNMENT as u64 == 0);
const _: () = assert!(RETENTION_HOURS_MIN <= RETENTION_HOURS_DEFAULT);
const _: () = assert!(RETENTION_HOURS_DEFAULT <= RETENTION_HOURS_MAX);
const _: () = assert!(SUBSCRIPTION_LIFETIME_MS_MIN <= SUBSCRIPTION_LIFETIME_MS_DEFAULT);
const _: () = assert!(SUBSCRIPTION_LIFETIME_MS_DEFAULT <= SUBSCRIPTION_LIFETIME_MS_MAX);
const _: () = assert!(SUBSCRIPTION_HEARTBEAT_MS_MIN <= SUBSCRIPTION_HEARTBEAT_MS_DEFAULT);
const _: () = assert!(SUBSCRIPTION_HEARTBEAT_MS_DEFAULT <= SUBSCRIPTION_HEARTBEAT_MS_MAX);
const _: () = assert!(RECORD_DATA_BYTES_MAX + PARTITION_KEY_BYTES_MAX <= APPEND_BYTES_MAX);

/// Rounds `v` up to the next multiple of [`DMA_ALIGNMENT`].
pub const fn align_up(v: u64) -> u64 {
    (v + DMA_ALIGNMENT as u64 - 1) & !(DMA_ALIGNMENT as u64 - 1)
}

/// Rounds `v` down to a multiple of [`DMA_ALIGNMENT`].
pub const fn align_down(v: u64) -> u64 {
    v & !(DMA_ALIGNMENT as u64 - 1)
}
