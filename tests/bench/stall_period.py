#!/usr/bin/env python3
"""Whether slow moments recur with a fixed period, and which.

    stall_period.py disk [SECONDS] [DIR]    8 KiB write + fdatasync every 2 ms in DIR
                                            (default: the current directory) for SECONDS
                                            (default 30); the flushes over 3 ms are the
                                            slow moments
    stall_period.py sleep [SECONDS]         1 ms sleeps for SECONDS (default 30); the
                                            ones that overran by more than 3 ms are the
                                            slow moments: the machine (the VM's host)
                                            did not run the process when it should have
    stall_period.py log NATIVE_LOG...       the slow requests listed by load_mix.sh's
                                            native client (kept with FLIGHTWATCH_BENCH_KEEP=1),
                                            after its first 3 s (the ramp-up); each log
                                            on its own

Slow moments within 0.1 s of one another count once (a burst is one stall). For their
times t it tries every period P from 0.5 to 2.5 s (0.5 ms steps) and prints the one whose
phases t/P line up best, with R, the length of the mean of the unit vectors at angle
2*pi*t/P: 1 when every moment falls at the same phase. The same search
over as many random times in the same span gives the R that chance reaches. A disk whose
flushes stall every P seconds, and a load whose slow requests are phase-locked to the
same P, point at the disk.
"""
import math
import os
import random
import re
import sys
import time


def best_period(times):
    best = (0.0, 0.0)
    for i in range(4001):
        period = 0.5 + i * 0.0005
        c = sum(math.cos(2 * math.pi * t / period) for t in times)
        s = sum(math.sin(2 * math.pi * t / period) for t in times)
        best = max(best, (math.hypot(c, s) / len(times), period))
    return best


def disk(seconds, directory):
    path = os.path.join(directory, f"stall-period-{os.getpid()}.dat")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    block = b"\0" * 8192
    start = time.monotonic()
    samples, slow = [], []
    try:
        while time.monotonic() - start < seconds:
            t = time.monotonic()
            os.pwrite(fd, block, 0)
            os.fdatasync(fd)
            ms = (time.monotonic() - t) * 1000.0
            samples.append(ms)
            if ms > 3.0:
                slow.append(t - start)
            time.sleep(0.002)
    finally:
        os.close(fd)
        os.unlink(path)
    samples.sort()
    n = len(samples)
    print(f"fdatasync 8 KiB: {n} samples, p50 {samples[n // 2]:.2f} ms, "
          f"p99 {samples[min(n - 1, n * 99 // 100)]:.2f} ms, max {samples[-1]:.1f} ms, "
          f"{len(slow)} over 3 ms")
    return slow


def oversleep(seconds):
    start = time.monotonic()
    overruns, slow = [], []
    while time.monotonic() - start < seconds:
        t = time.monotonic()
        time.sleep(0.001)
        over = (time.monotonic() - t) * 1000.0 - 1.0
        overruns.append(over)
        if over > 3.0:
            slow.append((t - start, over))
    overruns.sort()
    n = len(overruns)
    worst = sorted(slow, key=lambda s: -s[1])[:5]
    listed = ", ".join(f"{o:.1f} ms at {t:.1f} s" for t, o in worst)
    print(f"sleep 1 ms: {n} sleeps, overrun p99 {overruns[min(n - 1, n * 99 // 100)]:.2f} ms, "
          f"max {overruns[-1]:.1f} ms, {len(slow)} over 3 ms"
          + (f" (worst: {listed})" if slow else ""))
    return [t for t, _ in slow]


def logged(path):
    times = []
    for line in open(path):
        m = re.match(r"slow: \+([\d.]+) s", line)
        if m and float(m.group(1)) > 3.0:
            times.append(float(m.group(1)))
    print(f"{path}: {len(times)} slow requests after the first 3 s")
    return times


def separate(times, gap=0.1):
    """Slow moments within `gap` s of the one before them, as one stall, counted once: a
    burst would otherwise weigh its phase as many times as it has members, which random
    times (the yardstick) never do."""
    first = []
    for i, t in enumerate(sorted(times)):
        if i == 0 or t - previous > gap:
            first.append(t)
        previous = t
    return first


def report(times):
    times = separate(times)
    if len(times) < 4:
        print(f"{len(times)} separate moments (0.1 s apart): too few for a period")
        return
    r, period = best_period(times)
    # The best of many periods lines up better than one period would, even for random
    # times: the same search over as many random times in the same span is the yardstick.
    rng = random.Random(1)
    chance = sorted(best_period([rng.uniform(min(times), max(times)) for _ in times])[0]
                    for _ in range(20))
    print(f"{len(times)} separate moments (0.1 s apart), best period {period:.4f} s, R {r:.2f} "
          f"(random times: median R {chance[10]:.2f}, "
          f"highest of 20 {chance[-1]:.2f})")


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("disk", "sleep", "log"):
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    if sys.argv[1] == "disk":
        seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
        report(disk(seconds, sys.argv[3] if len(sys.argv) > 3 else "."))
    elif sys.argv[1] == "sleep":
        report(oversleep(float(sys.argv[2]) if len(sys.argv) > 2 else 30.0))
    else:
        for path in sys.argv[2:]:  # one run at a time: each has its own start
            report(logged(path))

if __name__ == "__main__":
    main()
