#!/usr/bin/env python3
"""The best durable-ack latency the device itself allows, for comparison with
Shoal's PutRecord and push latencies.

One thread writes 4 KiB with O_DIRECT and fdatasyncs, back to back, for N
seconds, and records when each write+sync started and ended. Then it asks:
if puts arrived uniformly at random during that time, and each were made
durable by the first write+sync that *started* after it arrived (an ideal
group commit with no CPU cost at all), how long would each put wait?
Those waits' percentiles are a floor no storage engine on this device can
beat at any load; the device's own stalls show up in them.

Usage: device_latency_bound.py DIR [seconds]   (DIR on the disk under test)
"""
import bisect
import mmap
import os
import random
import sys
import time

PAGE = 4096
FILE_BYTES = 64 << 20


def trace(path, secs):
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o644)
    try:
        # Written once first, so the traced writes are overwrites (no
        # extent conversion in their syncs), as in Shoal's zeroed runway.
        chunk = mmap.mmap(-1, 1 << 20)
        for off in range(0, FILE_BYTES, 1 << 20):
            os.pwrite(fd, chunk, off)
        os.fsync(fd)
        page = mmap.mmap(-1, PAGE)
        page.write(b"x" * PAGE)
        ops, off, end = [], 0, time.monotonic() + secs
        while time.monotonic() < end:
            t0 = time.monotonic()
            os.pwrite(fd, page, off)
            os.fdatasync(fd)
            ops.append((t0, time.monotonic()))
            off = (off + PAGE) % FILE_BYTES
        return ops
    finally:
        os.close(fd)
        os.unlink(path)


def pct(sorted_values, q):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


def main():
    directory = sys.argv[1]
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    ops = trace(os.path.join(directory, "device-latency-bound.bin"), secs)
    took = sorted(t1 - t0 for t0, t1 in ops)
    starts = [t0 for t0, _ in ops]
    samples = 200_000
    waits = []
    for _ in range(samples):
        t = random.uniform(starts[0], starts[-2])
        i = bisect.bisect_right(starts, t)  # first write+sync starting after t
        waits.append(ops[i][1] - t)
    waits.sort()
    us = lambda v: v * 1e6
    print(
        "device write+fdatasync 4 KiB: %d in %.0f s, p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us, over 3 ms: %d"
        % (len(ops), secs, us(pct(took, 0.5)), us(pct(took, 0.99)), us(pct(took, 0.999)), us(took[-1]),
           sum(1 for v in took if v > 0.003))
    )
    print(
        "ideal group commit, arrival to durable: p50 %.0f us, p99 %.0f us, p99.9 %.0f us"
        % (us(pct(waits, 0.5)), us(pct(waits, 0.99)), us(pct(waits, 0.999)))
    )


if __name__ == "__main__":
    main()
