#!/usr/bin/env python3
"""A training loop whose step time follows a known curve of the GPU's power limit, for the tuner's tests.

Each step reads the limit in force (the fake NVML's state file, milliwatts; 300 W when none was set), takes
    t(P) = BASE * (SATURATION / min(P, SATURATION)) ** GAMMA    seconds,
and marks its end (`event step`) on SUSTAIN_MARKS. Steps are paced against a deadline, so their durations are the
curve's, not the curve's plus this loop's own overhead. Usage: limit-workload.py STATE_FILE STEPS.
"""
import os
import sys
import time

BASE, SATURATION, GAMMA, DEFAULT_MW = 0.02, 200.0, 1.5, 300000


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
    deadline = time.monotonic()
    for _ in range(steps):
        deadline += step_seconds(limit_watts(path))
        pause = deadline - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        marks.write("event step\n")
    marks.close()


if __name__ == "__main__":
    main()
