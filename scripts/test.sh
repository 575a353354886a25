#!/usr/bin/env bash
# The README's test command: installs what the build and the tests need (as root on Debian or Ubuntu, only the
# packages that are missing), then builds and runs every test. Not root: says what is missing and goes on (the
# tests that need root or a missing tool are reported as skipped, with the reason).
set -euo pipefail
cd "$(dirname "$0")/.."

# Build: libpowercap, libsensors, SQLite. Tests: unshare/setpriv (util-linux), kill/pgrep (procps), curl for the
# socket tests, python3 for the Python helper and the grid data, chromium for the HTML report in a real browser,
# slurm-wlm and munge for a real one-node SLURM, prometheus to scrape two service "nodes" (the tests start these
# servers and stop them).
packages=(libpowercap-dev libsensors-dev libsqlite3-dev util-linux procps curl python3 chromium slurm-wlm munge
    prometheus)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y --no-install-recommends "${missing[@]}"
    else
        echo "scripts/test.sh: missing packages: ${missing[*]} (sudo apt-get install ${missing[*]})." \
            "Going on: what needs them fails or is skipped." >&2
    fi
fi

# Without indexing the toolchain's own modules (Foundation, Glibc, Dispatch for every module built): the index
# store is still written, for test discovery, and a clean build takes a fifth less CPU (5m35 s -> 4m32 s here).
swift build --build-tests -Xswiftc -index-ignore-system-modules
if (($#)); then
    # Line-buffered (stdbuf), so that a log cut short still ends at the test that was running.
    exec stdbuf -oL -eL swift test --skip-build --no-parallel "$@"
fi

# Every test, in two processes side by side, each running its tests one at a time: most tests wait on real time
# (a job of a few seconds, a simulator's counters), so two streams take about half as long on two cores. Not one
# process with parallel tests: blocking tests would starve Swift's two-thread cooperative pool, and an in-process
# Hummingbird server then meets a known NIO race (apple/swift-nio#3481). The fake-tree service suites and the
# API's go to one stream, the rest to the other. Last, one at a time with nothing beside them, the tests that load
# the machine on purpose or whose figures follow its load: the accuracy tests under load (their busy loops would
# shift the other stream's 0.1 % figures), attribution and watched servers (shares follow every process's CPU
# time; the watched server is under a load test) and the power tuner's (a step's time is its workload's, paced by
# the clock).
binaries=$(swift build --show-bin-path)
tests() { stdbuf -oL -eL "$binaries/sustainPackageTests.xctest" --testing-library swift-testing --no-parallel "$@"; }
alone='\.AttributionTests/|ServiceAccuracyTests|PowerTuningTests|ServiceGPUPowerTests|ServiceWatchTests'
first='ServiceHardeningTests|FakeSysfsTests|SocketTests|SlurmTests|PrometheusTests|\.APITests/|ServicePowerTests'
log=$(mktemp)
trap 'rm -f "$log"' EXIT
tests --filter "$first" --skip "$alone" > "$log" 2>&1 &
other=$!
status=0
tests --skip "$first|$alone" || status=$?
wait "$other" || status=$?
echo "--- the other stream ($first):"
cat "$log"
echo "--- alone ($alone):"
# The tuner's first: its steps are paced by the clock, and the accuracy tests under load leave the machine busy.
tuner='ServiceGPUPowerTests|PowerTuningTests'
tests --filter "$tuner" || status=$?
tests --filter "$alone" --skip "$tuner" || status=$?
exit "$status"
