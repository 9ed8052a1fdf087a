//! Probe: group-commit-shaped writes (G bytes as parallel 512 KiB writes,
//! then fdatasync, repeated) on a growing file, a fallocated file, a
//! fallocated KEEP_SIZE file and a pre-zeroed file. Tells which segment
//! preparation the device and file system reward.
//!
//! Run: cargo run --release -p shoal-benches --bin gc_probe -- [group KiB] [MiB]

use std::rc::Rc;
use std::time::Instant;

use glommio::io::{DmaFile, OpenOptions};
use shoal_benches::{bench_dir, executor};

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse().expect("number")).collect();
    let group = args.first().copied().unwrap_or(2048) << 10;
    let total = args.get(1).copied().unwrap_or(512) << 20;
    let ex = executor();
    let dir = tempfile::tempdir_in(bench_dir()).expect("dir");
    ex.run(async {
        let primer = dir.path().join("primer");
        std::fs::write(&primer, vec![0u8; 4096]).expect("primer");
        DmaFile::open(&primer).await.expect("open").close().await.expect("close");
        for mode in ["grow", "fallocate", "keep_size", "prezeroed", "grow"] {
            let path = dir.path().join(format!("{mode}.bin"));
            let _ = std::fs::remove_file(&path);
            let f =
                Rc::new(OpenOptions::new().read(true).write(true).create(true).dma_open(&path).await.expect("open"));
            match mode {
                "fallocate" => f.pre_allocate(total, false).await.expect("fallocate"),
                "keep_size" => f.pre_allocate(total, true).await.expect("fallocate"),
                "prezeroed" => {
                    let mut at = 0;
                    while at < total {
                        let b = f.alloc_dma_buffer(1 << 20);
                        f.write_at(b, at).await.expect("zero");
                        at += 1 << 20;
                    }
                    f.fdatasync().await.expect("sync");
                }
                _ => {}
            }
            let start = Instant::now();
            let mut pos = 0;
            let mut syncs = 0;
            while pos < total {
                let n = group.min(total - pos);
                let writes = (0..n).step_by(512 << 10).map(|off| {
                    let f = f.clone();
                    let len = (512u64 << 10).min(n - off) as usize;
                    async move {
                        let mut b = f.alloc_dma_buffer(len);
                        b.as_bytes_mut().fill(7);
                        f.write_at(b, pos + off).await.expect("write");
                    }
                });
                futures::future::join_all(writes).await;
                f.fdatasync().await.expect("sync");
                syncs += 1;
                pos += n;
            }
            let secs = start.elapsed().as_secs_f64();
            println!("{mode:<10} {:>6.0} MB/s  {:>6.0} syncs/s", total as f64 / secs / 1e6, syncs as f64 / secs);
        }
    });
}
