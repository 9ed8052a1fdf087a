#!/usr/bin/env python3
"""Is one O_DIRECT write with RWF_DSYNC (a FUA write, or write+flush done by
the kernel in one call) faster than the write followed by fdatasync that
Shoal's group commit does today?

Alternates the two methods in rounds on one pre-written file (overwrites,
as in Shoal's zeroed runway), for each write size, and prints p50/p99/p99.9
per method and size.

Usage: dsync_probe.py DIR [seconds_per_cell] [rounds]
"""
import mmap
import os
import sys
import time

FILE_BYTES = 64 << 20


def pct(v, q):
    return v[min(len(v) - 1, int(len(v) * q))]


def run(fd, size, secs, method, start_off):
    buf = mmap.mmap(-1, size)
    buf.write(b"y" * size)
    took, off, end = [], start_off, time.monotonic() + secs
    while time.monotonic() < end:
        t0 = time.monotonic()
        if method == "fdatasync":
            os.pwritev(fd, [buf], off)
            os.fdatasync(fd)
        else:
            os.pwritev(fd, [buf], off, os.RWF_DSYNC)
        took.append(time.monotonic() - t0)
        off = (off + size) % (FILE_BYTES - size)
        off -= off % 4096
    return took, off


def main():
    directory = sys.argv[1]
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    path = os.path.join(directory, "dsync-probe.bin")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o644)
    try:
        chunk = mmap.mmap(-1, 1 << 20)
        for o in range(0, FILE_BYTES, 1 << 20):
            os.pwrite(fd, chunk, o)
        os.fsync(fd)
        results, off = {}, 0
        for _ in range(rounds):
            for size in (4096, 40960):
                for method in ("fdatasync", "rwf_dsync"):
                    took, off = run(fd, size, secs, method, off)
                    results.setdefault((size, method), []).extend(took)
        for (size, method), took in sorted(results.items()):
            took.sort()
            print(f"{size:>6} B {method:<10} n={len(took):>6} p50={pct(took, .5)*1e3:.3f} ms "
                  f"p99={pct(took, .99)*1e3:.3f} ms p99.9={pct(took, .999)*1e3:.3f} ms max={took[-1]*1e3:.2f} ms")
    finally:
        os.close(fd)
        os.unlink(path)


if __name__ == "__main__":
    main()
