//! The server-held key that authenticates shard iterators and ListShards
//! tokens. Created once per data directory (random, mode 0600) so tokens
//! stay valid across restarts and cannot be forged by clients.

use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use shoal_protocol::iterator::SHARD_ITERATOR_KEY_SIZE_BYTES;

pub type Key = [u8; SHARD_ITERATOR_KEY_SIZE_BYTES];

const KEY_FILE: &str = "server.key";

/// Loads the key from `data_dir`, creating it on first start.
pub fn load_or_create(data_dir: &Path) -> std::io::Result<Key> {
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join(KEY_FILE);
    let mut key = [0u8; SHARD_ITERATOR_KEY_SIZE_BYTES];
    match std::fs::File::open(&path) {
        Ok(mut f) => {
            f.read_exact(&mut key).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("{} is damaged ({e}); delete it to make a new key", path.display()),
                )
            })?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
            let tmp = path.with_extension("tmp");
            let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
            f.write_all(&key)?;
            f.sync_all()?;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(data_dir)?.sync_all()?;
            Ok(key)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_and_reloaded() {
        let dir = tempfile::tempdir().expect("dir");
        let a = load_or_create(dir.path()).expect("create");
        let b = load_or_create(dir.path()).expect("load");
        assert_eq!(a, b);
        assert_ne!(a, [0u8; SHARD_ITERATOR_KEY_SIZE_BYTES]);
        let mode = std::fs::metadata(dir.path().join(KEY_FILE)).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
