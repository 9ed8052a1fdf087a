#!/usr/bin/env python3
"""Does zeroing ahead hurt concurrent small durable writes, and does it
matter whether the zeros go into the SAME file or ANOTHER one?

One thread writes 4 KiB with O_DIRECT into already-written pages of file A
and fdatasyncs, back to back (like small group commits over a zeroed
runway). Beside it, every PERIOD seconds, a second thread fallocates and
zeroes ZERO_MIB (512 KiB writes) and fdatasyncs: in file A past the
appender's pages (mode `same`, what Shoal's runway does), in file B (mode
`other`, what a pre-zeroed next segment would do), or not at all (`none`).
Prints the appender's write+fdatasync percentiles.

Usage: zero_probe.py MODE SECONDS PERIOD DIR [ZERO_MIB]
"""
import mmap
import os
import sys
import threading
import time

PAGE = 4096
CHUNK = 512 << 10


def main():
    mode, secs, period, directory = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    zero_bytes = int(float(sys.argv[5]) * (1 << 20)) if len(sys.argv) > 5 else 2 << 20
    paths = [os.path.join(directory, n) for n in ("zero-probe-a.bin", "zero-probe-b.bin")]
    fa, fb = (os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o644) for p in paths)
    zero = mmap.mmap(-1, CHUNK)
    active = 4 << 20
    for off in range(0, active, CHUNK):
        os.pwrite(fa, zero, off)
    os.fsync(fa)
    stop = threading.Event()

    def zeroer():
        next_at = {fa: active, fb: 0}
        while not stop.wait(period):
            if mode == "none":
                continue
            fd = fa if mode == "same" else fb
            pos = next_at[fd]
            os.posix_fallocate(fd, pos, zero_bytes)
            for off in range(pos, pos + zero_bytes, CHUNK):
                os.pwrite(fd, zero, off)
            os.fdatasync(fd)
            next_at[fd] = pos + zero_bytes

    t = threading.Thread(target=zeroer)
    t.start()
    page = mmap.mmap(-1, PAGE)
    page.write(b"x" * PAGE)
    took, off, end = [], 0, time.monotonic() + secs
    while time.monotonic() < end:
        t0 = time.monotonic()
        os.pwrite(fa, page, off)
        os.fdatasync(fa)
        took.append(time.monotonic() - t0)
        off = (off + PAGE) % active
    stop.set()
    t.join()
    for fd, p in zip((fa, fb), paths):
        os.close(fd)
        os.unlink(p)
    took.sort()
    n = len(took)
    us = lambda q: took[min(n - 1, int(n * q))] * 1e6
    print(
        "%-5s zero %d MiB every %.1f s: %d write+fdatasync, p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us, over 3 ms: %d"
        % (mode, zero_bytes >> 20, period, n, us(0.5), us(0.99), us(0.999), took[-1] * 1e6,
           sum(1 for v in took if v > 0.003))
    )


if __name__ == "__main__":
    main()
