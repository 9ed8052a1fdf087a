//! Partition keys and the shards they land on.
//!
//! Keys come from a pool drawn once per run from the seed, with the same number of keys for
//! every shard, so that picking uniformly from the pool spreads records evenly over the
//! shards. A skewed workload sends a share of the records to one hot key instead. The shard of
//! every key is known up front (MD5 of the key, as the server routes), which is how throttled
//! records, which the server does not place, are still counted per shard.

use md5::{Digest, Md5};
use shoal_protocol::ops::Shard;

/// Every key is this long, so records of one size weigh the same against the byte limits.
pub const KEY_BYTES: usize = 16;
/// Keys per shard in the pool.
const KEYS_PER_SHARD: usize = 256;
/// How many random keys may be tried to fill the pool before giving up (a shard with a tiny
/// hash range would otherwise never fill).
const KEY_DRAWS_MAX: usize = 10_000_000;

/// The stream's open shards by hash-key range.
#[derive(Debug, Clone)]
pub struct ShardMap {
    /// (start, end inclusive, shard index), sorted by start.
    ranges: Vec<(u128, u128, u32)>,
}

impl ShardMap {
    /// The open shards (no ending sequence number) of `shards`.
    pub fn new(shards: &[Shard]) -> ShardMap {
        let mut ranges: Vec<_> = shards
            .iter()
            .filter(|s| s.ending_sequence_number.is_none())
            .map(|s| (s.hash_key_range.start, s.hash_key_range.end, s.index))
            .collect();
        ranges.sort_unstable();
        ShardMap { ranges }
    }

    /// The open shards' indexes, in hash-key order.
    pub fn shards(&self) -> Vec<u32> {
        self.ranges.iter().map(|r| r.2).collect()
    }

    /// The shard owning `key`'s hash key.
    pub fn shard_of(&self, key: &str) -> Option<u32> {
        let hash = hash_key(key);
        let at = self.ranges.partition_point(|r| r.0 <= hash);
        let (start, end, shard) = *self.ranges.get(at.checked_sub(1)?)?;
        (start <= hash && hash <= end).then_some(shard)
    }
}

/// MD5 of the key's UTF-8 bytes as a big-endian u128: the record's hash key.
pub fn hash_key(key: &str) -> u128 {
    u128::from_be_bytes(Md5::digest(key.as_bytes()).into())
}

/// A key and the shard it lands on.
#[derive(Debug, Clone)]
pub struct Key {
    pub key: String,
    pub shard: u32,
}

#[derive(Debug)]
pub struct KeyPool {
    keys: Vec<Key>,
    hot: Key,
    /// Probability that a record uses the hot key.
    hot_share: f64,
}

impl KeyPool {
    pub fn new(map: &ShardMap, seed: u64, hot_share: f64) -> Result<KeyPool, String> {
        let shards = map.shards();
        if shards.is_empty() {
            return Err("the stream has no open shard".into());
        }
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut per_shard: std::collections::BTreeMap<u32, Vec<Key>> =
            shards.iter().map(|&s| (s, Vec::new())).collect();
        let mut full = 0;
        for _ in 0..KEY_DRAWS_MAX {
            if full == shards.len() {
                break;
            }
            let key = format!("{:016x}", rng.u64(..));
            let Some(shard) = map.shard_of(&key) else { continue };
            if let Some(keys) = per_shard.get_mut(&shard) {
                if keys.len() < KEYS_PER_SHARD {
                    keys.push(Key { key, shard });
                    full += usize::from(keys.len() == KEYS_PER_SHARD);
                }
            }
        }
        if full < shards.len() {
            return Err("could not draw keys for every shard (hash key ranges too uneven)".into());
        }
        let keys: Vec<Key> = per_shard.into_values().flatten().collect();
        let hot_key = format!("hot-{:012x}", seed & 0xffff_ffff_ffff);
        let hot = Key { shard: map.shard_of(&hot_key).ok_or("the hot key maps to no open shard")?, key: hot_key };
        Ok(KeyPool { keys, hot, hot_share })
    }

    /// A key for the next record.
    pub fn pick(&self, rng: &mut fastrand::Rng) -> &Key {
        if self.hot_share > 0.0 && rng.f64() < self.hot_share {
            return &self.hot;
        }
        &self.keys[rng.usize(..self.keys.len())]
    }

    /// The shard the hot key lands on.
    pub fn hot_shard(&self) -> u32 {
        self.hot.shard
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_protocol::ops::HashKeyRange;

    fn shards(n: u32) -> Vec<Shard> {
        let size = u128::MAX / n as u128;
        (0..n)
            .map(|i| Shard {
                index: i,
                parent: None,
                adjacent_parent: None,
                hash_key_range: HashKeyRange {
                    start: i as u128 * size,
                    end: if i + 1 == n { u128::MAX } else { (i as u128 + 1) * size - 1 },
                },
                starting_sequence_number: 0,
                ending_sequence_number: None,
            })
            .collect()
    }

    #[test]
    fn keys_route_like_the_server() {
        // Kinesis' documented example: MD5("a") = 0cc175b9c0f1b6a831c399e269772661.
        assert_eq!(hash_key("a"), 0x0cc175b9c0f1b6a831c399e269772661);
        let map = ShardMap::new(&shards(4));
        assert_eq!(map.shard_of("a"), Some(0));
        assert_eq!(map.shards(), [0, 1, 2, 3]);
    }

    #[test]
    fn uniform_keys_spread_evenly_and_the_hot_key_takes_its_share() {
        let map = ShardMap::new(&shards(4));
        let pool = KeyPool::new(&map, 7, 0.0).expect("pool");
        let mut rng = fastrand::Rng::with_seed(1);
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            let k = pool.pick(&mut rng);
            assert_eq!(k.key.len(), KEY_BYTES);
            assert_eq!(map.shard_of(&k.key), Some(k.shard));
            counts[k.shard as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (9_000..11_000).contains(&c)), "{counts:?}");

        let pool = KeyPool::new(&map, 7, 0.5).expect("pool");
        let hot = pool.hot_shard();
        let picks = (0..40_000).filter(|_| pool.pick(&mut rng).shard == hot).count();
        // Half the records plus a quarter of the rest.
        assert!((23_000..27_000).contains(&picks), "{picks}");
    }
}
