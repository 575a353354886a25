#!/usr/bin/env python3
"""Checks sustain-measure's NVIDIA GPU energy against an independent NVML reading, on a real NVIDIA machine.

Needs only the built binary and Python with nvidia-ml-py (`pip install nvidia-ml-py`); the default load uses
PyTorch or CuPy when one is installed, or pass any GPU command with --load.

    python3 scripts/gpu-check.py --binary .build/release/sustain-measure [--seconds 30] [--load "CMD ..."]

It reads each GPU's total-energy counter (nvmlDeviceGetTotalEnergyConsumption) through pynvml just before
starting `sustain-measure -- LOAD` and just after it returns, and compares that with the energy sustain reports
for the same GPU. The independent window is a little longer (it includes the wrapper's start and exit), so the
allowed difference is 2 % or the GPU's power over 0.2 s, whichever is larger. Exit status 0 when every GPU
agrees, 1 otherwise, 2 when it cannot run.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

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


if __name__ == "__main__":
    sys.exit(main())
