#!/usr/bin/env python3
"""Checks sustain-measure's NVIDIA GPU energy against an independent NVML reading, on a real NVIDIA machine.

Needs only the built binary and Python with nvidia-ml-py (`pip install nvidia-ml-py`); the default load uses
PyTorch or CuPy when one is installed, or pass any GPU command with --load.

    python3 scripts/gpu-check.py --binary .build/release/sustain-measure [--seconds 30] [--load "CMD ..."]
    sudo python3 scripts/gpu-check.py --power [--socket /run/sustain/sustain.sock --user alice]

It reads each GPU's total-energy counter (nvmlDeviceGetTotalEnergyConsumption) through pynvml just before
starting `sustain-measure -- LOAD` and just after it returns, and compares that with the energy sustain reports
for the same GPU. The independent window is a little longer (it includes the wrapper's start and exit), so the
allowed difference is 2 % or the GPU's power over 0.2 s, whichever is larger. Exit status 0 when every GPU
agrees, 1 otherwise, 2 when it cannot run.

With --power (root), it checks power limits on GPU 0 instead: a cap of three quarters of its limit (within the
board's range) set by `sustain-measure --gpu-power-limit` holds during the job, as NVML reads it here, and the
original is back after; with --socket (a running sustain-measured) and --user (a member of its [control] groups),
that user's capped job's wrapper and command are killed with SIGKILL and the original must be back within 2 s; then a short job of marked steps is tuned
(`--tune-power gpu --objective energy`) and the original is back after it. It prints what it read at each point.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

STEPS = r"""
import os, sys, time
steps = int(sys.argv[1])
marks = open(os.environ["SUSTAIN_MARKS"], "w", buffering=1)
try:
    import torch
    x = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
    sync = torch.cuda.synchronize
except ImportError:
    try:
        import cupy
        x = cupy.random.rand(8192, 8192, dtype=cupy.float32)
        sync = cupy.cuda.Device().synchronize
    except ImportError:  # no GPU library: steps of 50 ms of nothing (the limits are still checked)
        x, sync = None, lambda: time.sleep(0.05)
for _ in range(steps):
    for _ in range(20 if x is not None else 0):
        y = x @ x
    sync()
    marks.write("event step\n")
"""

LOAD = r"""
import sys, time
seconds = float(sys.argv[1])
try:
    import torch
    x = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
    end = time.time() + seconds
    while time.time() < end:
        y = x @ x
    torch.cuda.synchronize()
except ImportError:
    import cupy
    x = cupy.random.rand(8192, 8192, dtype=cupy.float32)
    end = time.time() + seconds
    while time.time() < end:
        y = x @ x
    cupy.cuda.Device().synchronize()
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=".build/release/sustain-measure")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--load", help="GPU command to run instead of the built-in matrix multiply")
    parser.add_argument("--power", action="store_true", help="check power limits and the tuner on GPU 0 (root)")
    parser.add_argument("--socket", help="with --power: a running sustain-measured, for the SIGKILL check")
    parser.add_argument("--user", help="with --socket: a member of the service's [control] groups to run it as")
    args = parser.parse_args()
    try:
        import pynvml
    except ImportError:
        print("gpu-check: needs nvidia-ml-py: pip install nvidia-ml-py", file=sys.stderr)
        return 2
    if not os.access(args.binary, os.X_OK):
        print(f"gpu-check: {args.binary} is not an executable; build it first", file=sys.stderr)
        return 2
    pynvml.nvmlInit()
    handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
    if not handles:
        print("gpu-check: no NVIDIA GPU", file=sys.stderr)
        return 2
    if args.power:
        return power_check(args, pynvml, handles[0])
    load = shlex.split(args.load) if args.load else [sys.executable, "-c", LOAD, str(args.seconds)]
    with tempfile.TemporaryDirectory() as directory:
        report_path = os.path.join(directory, "report.json")
        before = [pynvml.nvmlDeviceGetTotalEnergyConsumption(h) for h in handles]
        started = time.monotonic()
        status = subprocess.call([args.binary, "--quiet", "--report", report_path, "--"] + load)
        elapsed = time.monotonic() - started
        after = [pynvml.nvmlDeviceGetTotalEnergyConsumption(h) for h in handles]
        report = json.load(open(report_path))
    print(f"load exited {status}; independent window {elapsed:.3f} s, sustain window {report['duration_seconds']:.3f} s")
    domains = {d["id"]: d for d in report["energy"]["domains"]}
    ok = True
    print(f"{'gpu':<5}{'independent J':>16}{'sustain J':>14}{'diff %':>9}  counted  method")
    for index, (b, a) in enumerate(zip(before, after)):
        independent = (a - b) / 1000.0
        domain = domains.get(f"nvml:{index}")
        measured = domain["joules"] if domain else None
        if measured is None:
            print(f"{index:<5}{independent:>16.1f}{'missing':>14}")
            ok = False
            continue
        power = independent / elapsed if elapsed > 0 else 0
        allowed = max(0.02 * independent, power * 0.2)
        diff = measured - independent
        agrees = abs(diff) <= allowed
        ok = ok and agrees
        percent = 100 * diff / independent if independent else 0
        print(f"{index:<5}{independent:>16.1f}{measured:>14.1f}{percent:>9.2f}  {str(domain['counted']):<7}  "
              f"{domain['method']}{'' if agrees else '  <-- DISAGREES'}")
    print("agree" if ok else "DISAGREE")
    return 0 if ok else 1


def power_check(args, pynvml, handle):
    """Cap, restore, SIGKILL through the service, and a tuned job on GPU 0; 0 when every limit came back."""
    if os.geteuid() != 0:
        print("gpu-check: --power needs root (NVML sets limits for root only)", file=sys.stderr)
        return 2
    limit = lambda: pynvml.nvmlDeviceGetPowerManagementLimit(handle) / 1000.0
    low, high = (v / 1000.0 for v in pynvml.nvmlDeviceGetPowerManagementLimitConstraints(handle))
    original = limit()
    cap = float(max(round(low + 1), round(0.75 * original)))
    print(f"GPU 0: limit {original:.0f} W, range {low:.0f}-{high:.0f} W; cap {cap:.0f} W")
    ok = True

    def back(label, within=2.0):
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and abs(limit() - original) > 0.5:
            time.sleep(0.05)
        now = limit()
        good = abs(now - original) <= 0.5
        print(f"{label}: {now:.0f} W {'(back)' if good else '<-- NOT BACK, was %.0f W' % original}")
        return good

    load = [sys.executable, "-c", STEPS, "100"]
    job = subprocess.Popen([args.binary, "--quiet", "--no-daemon", "--gpu-power-limit", str(cap), "--"] + load)
    time.sleep(2)
    during = limit()
    print(f"during the capped job: {during:.0f} W {'(capped)' if abs(during - cap) <= 0.5 else '<-- NOT CAPPED'}")
    ok = ok and abs(during - cap) <= 0.5
    job.wait()
    ok = back("after it") and ok

    if args.socket and args.user:
        # Not root: the wrapper asks the service, which holds the limit and must put it back on its own.
        job = subprocess.Popen(
            ["runuser", "-u", args.user, "--", args.binary, "--quiet", "--socket", args.socket, "--gpu-power-limit",
             str(cap), "--", "sleep", "60"],
            start_new_session=True)
        time.sleep(2)
        print(f"through the service: {limit():.0f} W")
        os.killpg(job.pid, 9)
        job.wait()
        ok = back("after SIGKILL of wrapper and command") and ok
    elif args.socket:
        print("gpu-check: --socket needs --user (root's own wrapper sets limits itself, not through the service)")

    with tempfile.TemporaryDirectory() as directory:
        report_path = os.path.join(directory, "tuned.json")
        status = subprocess.call(
            [args.binary, "--quiet", "--no-daemon", "--tune-power", "gpu", "--step-mark", "step", "--objective",
             "energy", "--report", report_path, "--", sys.executable, "-c", STEPS, "400"])
        tuning = json.load(open(report_path)).get("power_tuning") or {}
    print(f"tuned job exited {status}: {tuning.get('state')}, chose {tuning.get('choice_watts')} W, predicted "
          f"saving {100 * (tuning.get('predicted_energy_saving') or 0):.1f} %, {tuning.get('reason') or ''}")
    for candidate in tuning.get("candidates", []):
        print(f"  {candidate['watts']:>6.0f} W  {candidate['joules_per_step']:8.2f} J/step  "
              f"{1000 * candidate['seconds_per_step']:8.1f} ms/step")
    ok = back("after the tuned job") and ok
    print("power limits: ok" if ok else "power limits: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
