#!/usr/bin/env python3
"""How long the disk takes to make a small write durable, sampled while a benchmark runs.

    fsync_probe.py FILE [INTERVAL_MS]

Every INTERVAL_MS (default 50) it writes 8 KiB at the start of FILE and calls fdatasync,
as a database does for a commit (PostgreSQL flushes its WAL so before a commit returns).
On SIGTERM or SIGINT it prints one line and removes FILE:

    fdatasync 8 KiB: N samples, p50 A ms, p99 B ms, max C ms, D over 5 ms

A p99 or max of several milliseconds means every durable commit on that disk can take
that long, whatever the database does.
"""
import os
import signal
import sys
import time


def main():
    path = sys.argv[1]
    interval = (float(sys.argv[2]) if len(sys.argv) > 2 else 50.0) / 1000.0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    block = b"\0" * 8192
    samples = []
    while not stop:
        started = time.monotonic()
        os.pwrite(fd, block, 0)
        os.fdatasync(fd)
        samples.append((time.monotonic() - started) * 1000.0)
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
    os.close(fd)
    os.unlink(path)
    if not samples:
        print("fdatasync 8 KiB: no samples")
        return
    samples.sort()
    n = len(samples)

    def rank(p):  # nearest rank
        return samples[min(n - 1, max(0, -(-p * n // 100) - 1))]

    print(f"fdatasync 8 KiB: {n} samples, p50 {rank(50):.2f} ms, p99 {rank(99):.2f} ms, "
          f"max {samples[-1]:.1f} ms, {sum(1 for s in samples if s > 5.0)} over 5 ms")


if __name__ == "__main__":
    main()
