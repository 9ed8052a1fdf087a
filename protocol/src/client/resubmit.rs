//! PutRecords until every record is stored: resubmit only the records that failed.
//!
//! A PutRecords call succeeds as a whole even when some of its records fail (a throttled shard,
//! an internal failure), so retrying the call is the wrong tool: it would store the other
//! records again. This sends the failed records alone, in rounds with backoff.

use std::mem;

use futures_timer::Delay;

use crate::client::{Client, ClientError};
use crate::limits::{PUT_RECORDS_COUNT_MAX, PUT_RECORDS_SIZE_BYTES_MAX};
use crate::ops::{Durability, PutRecords, PutRecordsEntry, PutRecordsOutput, PutRecordsResult};

impl Client {
    /// Puts `records` into `stream_name` with as many PutRecords calls as needed, and returns
    /// one result per record, in the order given.
    ///
    /// - Records go in calls of at most 500 records and 5 MiB (data plus partition keys).
    /// - A record that failed with a retryable status (ProvisionedThroughputExceeded,
    ///   InternalFailure) is sent again in the next round, after the policy's backoff, together
    ///   with the other failed records and in their original relative order. A record that was
    ///   stored is never sent again by this method; one that failed for good keeps its failure.
    /// - Rounds stop when no retryable failure is left or after the retry policy's
    ///   `max_attempts` rounds; records still failing then keep their last failure.
    /// - Each call is also retried as a whole like [`Client::call`] (throttling of the whole
    ///   call, a lost connection), so records are stored at least once, not exactly once.
    ///
    /// The output's durability is the weakest that a call storing records reported (`SYNCED`
    /// when none did). A call that fails as a whole, after its own retries, ends this with its
    /// error; records that earlier calls stored stay stored. Empty `records` return an empty
    /// output without a call.
    pub async fn put_records_retrying_failed(
        &self,
        stream_name: &str,
        records: &[PutRecordsEntry],
    ) -> Result<PutRecordsOutput, ClientError> {
        let policy = &self.config().retry;
        let mut results: Vec<Option<PutRecordsResult>> = vec![None; records.len()];
        let mut durability = Durability::Synced;
        let mut to_send: Vec<usize> = (0..records.len()).collect();
        let mut round = 1;
        while !to_send.is_empty() {
            let mut failed = Vec::new();
            for batch in batches(records, &to_send) {
                let entries = batch.iter().filter_map(|&i| records.get(i).cloned()).collect();
                let output = self.put_records(PutRecords::new(stream_name, entries)).await?;
                if output.records.iter().any(|r| matches!(r, PutRecordsResult::Success { .. })) {
                    durability = weakest(durability, output.durability);
                }
                for (i, result) in batch.into_iter().zip(output.records) {
                    if matches!(&result, PutRecordsResult::Failure { status, .. } if status.is_retryable()) {
                        failed.push(i);
                    }
                    if let Some(slot) = results.get_mut(i) {
                        *slot = Some(result);
                    }
                }
            }
            if failed.is_empty() || round >= policy.attempts() {
                break;
            }
            let delay = policy.backoff(round);
            tracing::debug!(stream_name, round, failed = failed.len(), ?delay, "resubmitting failed records");
            Delay::new(delay).await;
            to_send = failed;
            round += 1;
        }
        let results: Vec<PutRecordsResult> = results.into_iter().flatten().collect();
        // Every record was in the first round, and put_records checks that each call answers
        // one result per record sent.
        assert_eq!(results.len(), records.len(), "a result for every record");
        Ok(PutRecordsOutput { records: results, durability })
    }
}

/// Splits `indices` into runs that each fit one PutRecords call, keeping their order. A record
/// too large for any call goes alone, for the server to refuse.
fn batches(records: &[PutRecordsEntry], indices: &[usize]) -> Vec<Vec<usize>> {
    let mut batches = Vec::new();
    let mut batch = Vec::new();
    let mut batch_size_bytes = 0;
    for &i in indices {
        let size_bytes = records.get(i).map_or(0, PutRecordsEntry::size_bytes);
        let full = batch.len() == PUT_RECORDS_COUNT_MAX || batch_size_bytes + size_bytes > PUT_RECORDS_SIZE_BYTES_MAX;
        if full && !batch.is_empty() {
            batches.push(mem::take(&mut batch));
            batch_size_bytes = 0;
        }
        batch.push(i);
        batch_size_bytes += size_bytes;
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    batches
}

fn weakest(a: Durability, b: Durability) -> Durability {
    match (a, b) {
        (Durability::Synced, Durability::Synced) => Durability::Synced,
        _ => Durability::Written,
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn entry(size_bytes: usize) -> PutRecordsEntry {
        PutRecordsEntry::new("k", Bytes::from(vec![0u8; size_bytes - 1]))
    }

    #[test]
    fn batches_respect_the_count_limit_and_keep_order() {
        let records: Vec<_> = (0..1201).map(|_| entry(10)).collect();
        let indices: Vec<usize> = (0..records.len()).rev().collect();
        let batches = batches(&records, &indices);
        let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, [500, 500, 201]);
        assert_eq!(batches.concat(), indices);
    }

    #[test]
    fn batches_respect_the_size_limit() {
        let mib = 1024 * 1024;
        let records = vec![entry(2 * mib), entry(2 * mib), entry(2 * mib), entry(6 * mib), entry(1)];
        let batches = batches(&records, &[0, 1, 2, 3, 4]);
        assert_eq!(batches, [vec![0, 1], vec![2], vec![3], vec![4]]);
    }

    #[test]
    fn written_is_weaker_than_synced() {
        assert_eq!(weakest(Durability::Synced, Durability::Synced), Durability::Synced);
        assert_eq!(weakest(Durability::Synced, Durability::Written), Durability::Written);
        assert_eq!(weakest(Durability::Written, Durability::Synced), Durability::Written);
    }
}
