//! The counter lease: a bound, kept in the shard's directory, above every
//! counter the shard may have handed out.
//!
//! Recovery finds a shard's next counter at the end of its log. If the log
//! lost acknowledged records and left no trace of them (a tail segment cut
//! by hand below any checkpoint, a device that dropped writes it had
//! acknowledged), that end is too low, and the next appends would hand the
//! lost records' counters out again: one sequence number for two different
//! records. So every group's counters lie below a lease saved (and synced)
//! before the group is acknowledged, and recovery counts on from the lease
//! at least.
//!
//! The lease runs [`COUNTER_LEASE`] counters ahead and is renewed by
//! maintenance once half of it is used, so appends rarely wait for it: on a
//! shard's first append after opening (one small file written atomically),
//! or after a SequenceNumberForOrdering far past it.
//! The price: after a restart a shard's counters jump by up to
//! [`COUNTER_LEASE`]. Sequence numbers increase; they were never
//! contiguous (SequenceNumberForOrdering raises them too).

use super::ShardLog;
use crate::checksum::crc32;
use crate::clock::Clock;
use crate::error::Result;
use crate::limits::COUNTER_LEASE;
use crate::storage::Storage;

/// The lease's file in a shard's directory.
pub const LEASE_FILE_NAME: &str = "counters.lease";

/// The damage reason (recovery and `check`) for a lease file that does not verify.
pub const LEASE_DAMAGED: &str = "counter lease damaged";

/// `SHLEASE1`: the file's first bytes.
const MAGIC: &[u8; 8] = b"SHLEASE1";
/// Magic, the lease (u64, little-endian), CRC-32 (IEEE) of both (u32).
const FILE_BYTES: usize = 20;

/// What a shard's directory says about its lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SavedLease {
    /// No lease file: a new shard, or one written before leases existed.
    Absent,
    /// Counters at and above this were never handed out.
    Valid(u64),
    /// A lease file that does not verify.
    Damaged,
}

impl SavedLease {
    pub fn decode(bytes: Option<&[u8]>) -> SavedLease {
        let Some(bytes) = bytes else { return SavedLease::Absent };
        let verified =
            bytes.len() == FILE_BYTES && &bytes[..8] == MAGIC && crc32(&bytes[..16]).to_le_bytes() == bytes[16..20];
        if !verified {
            return SavedLease::Damaged;
        }
        let mut lease = [0; 8];
        lease.copy_from_slice(&bytes[8..16]);
        SavedLease::Valid(u64::from_le_bytes(lease))
    }
}

/// The lease file's bytes.
pub fn encode(lease: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(FILE_BYTES);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&lease.to_le_bytes());
    let crc = crc32(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}

impl<S: Storage, C: Clock> ShardLog<S, C> {
    /// Returns once counters below `end` are leased, saving a new lease
    /// [`COUNTER_LEASE`] past `end` if they are not.
    pub(super) async fn lease_through(&self, end: u64) -> Result<()> {
        if self.st.borrow().leased_to >= end {
            return Ok(());
        }
        self.save_lease(end.saturating_add(COUNTER_LEASE)).await
    }

    /// Renews the lease before appends reach it, once half is used, for a
    /// shard that appended since it was opened (idle shards write nothing).
    pub async fn renew_lease_if_due(&self) -> Result<()> {
        let next = {
            let st = self.st.borrow();
            let due = st.lease_taken && st.next_counter.saturating_add(COUNTER_LEASE / 2) > st.leased_to;
            if !due || st.failed.is_some() || st.ending_counter.is_some() {
                return Ok(());
            }
            st.next_counter
        };
        self.save_lease(next.saturating_add(COUNTER_LEASE)).await
    }

    /// Saves `lease` (synced) unless a larger one is saved already.
    async fn save_lease(&self, lease: u64) -> Result<()> {
        // One save at a time: they share the temporary file.
        let _saving = self.lease_lock.lock().await;
        if self.st.borrow().leased_to >= lease {
            return Ok(());
        }
        self.storage.write_file_atomic(&self.dir.join(LEASE_FILE_NAME), &encode(lease)).await?;
        let mut st = self.st.borrow_mut();
        st.leased_to = st.leased_to.max(lease);
        st.lease_taken = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_lease_reads_back() {
        assert_eq!(SavedLease::decode(Some(&encode(42))), SavedLease::Valid(42));
        assert_eq!(SavedLease::decode(Some(&encode(u64::MAX))), SavedLease::Valid(u64::MAX));
        assert_eq!(SavedLease::decode(None), SavedLease::Absent);
    }

    #[test]
    fn any_damage_is_detected() {
        let good = encode(1 << 40);
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            assert_eq!(SavedLease::decode(Some(&bad)), SavedLease::Damaged, "byte {i} flipped");
        }
        assert_eq!(SavedLease::decode(Some(&good[..19])), SavedLease::Damaged, "truncated");
        assert_eq!(SavedLease::decode(Some(b"")), SavedLease::Damaged, "empty");
    }
}
