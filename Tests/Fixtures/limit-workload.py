#!/usr/bin/env python3
"""A training loop whose step time follows a known curve of the GPU's power limit, for the tuner's tests.

Each step is a unit of work done at the rate 1 / t(P) the limit in force allows (the fake NVML's state file,
milliwatts, read every 2 ms; 300 W when none was set): at a steady limit a step takes
    t(P) = BASE * (SATURATION / min(P, SATURATION)) ** GAMMA    seconds,
and marks its end (`event step`) on SUSTAIN_MARKS; the phase `steps` holds them all. Steps are paced against a deadline, so their durations are the
curve's, not the curve's plus this loop's own overhead. Usage: limit-workload.py STATE_FILE STEPS.
"""
import os
import sys
import time

BASE, SATURATION, GAMMA, DEFAULT_MW, SLICE = 0.02, 200.0, 1.5, 300000, 0.002


def limit_watts(path):
    try:
        with open(path) as file:
            return int(file.read().split()[0]) / 1000.0
    except (OSError, ValueError, IndexError):
        return DEFAULT_MW / 1000.0


def step_seconds(watts):
    return BASE * (SATURATION / min(watts, SATURATION)) ** GAMMA


def main():
    path, steps = sys.argv[1], int(sys.argv[2])
    marks = open(os.environ["SUSTAIN_MARKS"], "w", buffering=1)
    marks.write("begin steps\n")
    deadline = time.monotonic()
    for _ in range(steps):
        # A step is one unit of work done at the rate the limit in force allows, the limit read every 2 ms: a
        # limit set just after a step's mark (the tuner's) governs that step from then on, as on a GPU.
        work = 0.0
        while True:
            rate = 1.0 / step_seconds(limit_watts(path))
            remaining = (1.0 - work) / rate
            piece = min(SLICE, remaining)
            deadline += piece
            pause = deadline - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            work += piece * rate
            if piece == remaining:
                break
        marks.write("event step\n")
    marks.write("end steps\n")
    marks.close()


if __name__ == "__main__":
    main()
