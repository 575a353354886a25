"""A training-like job for the phase tests, standard library only.

It marks `load`, five `epoch`s with units and a nested `step`, a `checkpoint` event, `eval`, and a phase it never
ends. Between phases it steps the simulated machine's power through sustain-fakesys's load file (every channel's
power times the factor written there), so each phase runs at its own known power:

    load 0.5x, epoch i (and its step) (1 + 0.5 i)x, eval 0.25x, everything else 1x.

Usage: python3 phased_training.py DIRECTORY_HOLDING_sustain_marks [SCALE]

SCALE (default 1) stretches every phase: 20 makes a job of about a minute, for the README's report.
"""

import os
import sys
import time

sys.path.insert(0, sys.argv[1])
import sustain_marks  # noqa: E402

LOAD_FILE = os.environ.get("SUSTAIN_FAKESYS_LOAD")
SCALE = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0


def work(seconds):
    time.sleep(seconds * SCALE)


def power(factor):
    """Sets the machine's load factor, 50 ms clear of the marks on either side.

    The simulator runs at a new factor within 0.5 ms. Through the service a mark's reading is taken when the daemon
    receives it (the wrapper's relay thread sends it at once: a few ms in a debug build, past 20 ms now and then on a
    loaded 2-core machine), so the power must not step right at a mark.
    """
    time.sleep(0.05)
    if LOAD_FILE:
        with open(LOAD_FILE, "w") as f:
            f.write(f"{factor}\n")
    time.sleep(0.05)


power(0.5)
with sustain_marks.phase("load"):
    work(0.4)
for epoch in range(5):
    power(1 + 0.5 * epoch)
    with sustain_marks.phase("epoch", units=4096, unit="tokens"):
        work(0.2)
        with sustain_marks.phase("step"):
            work(0.1)
power(1)
sustain_marks.event("checkpoint")
work(0.1)
power(0.25)
with sustain_marks.phase("eval"):
    work(0.3)
power(1)
sustain_marks.begin("never-ended")
