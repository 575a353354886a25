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

bash scripts/build-tests.sh
if (($#)); then
    # Line-buffered (stdbuf), so that a log cut short still ends at the test that was running.
    exec stdbuf -oL -eL swift test --skip-build --no-parallel "$@"
fi

# Every test, in three phases. Not one process with parallel tests: blocking tests would starve Swift's two-thread
# cooperative pool, and an in-process Hummingbird server then meets a known NIO race (apple/swift-nio#3481); so
# processes side by side, each running its tests one at a time. Most tests wait on real time (a job of a few
# seconds, a simulator's counters): four such streams used 1.1 cores of two here.
#   1. four streams side by side: the fake-tree service and socket suites; the API, power, experiment and NVML
#      suites; hourly carbon, the HTML report in Chromium, SLURM, Prometheus and phases; the rest;
#   2. one at a time with nothing beside them, the tests whose figures follow the machine's load: the power
#      tuner's (a step's time is its workload's, paced by the clock), attribution's shares (they follow every
#      process's CPU time) and the watched server's (a server under a load test); beside the streams they failed;
#   3. last, the accuracy tests under load: their busy loops would shift everything else's figures.
binaries=$(swift build --show-bin-path)
tests() { stdbuf -oL -eL "$binaries/sustainPackageTests.xctest" --testing-library swift-testing --no-parallel "$@"; }
quiet='PowerTuningTests|ServiceGPUPowerTests/aMemberTunes|\.AttributionTests/sharesFollow|ServiceWatchTests/aWatched'
loud='ServiceAccuracyTests'
streams=(
    'ServiceHardeningTests|FakeSysfsTests|SocketTests'
    '\.APITests/|ServicePowerTests|ServiceGPUPowerTests|\.ExperimentTests/|NVMLTests'
    'HourlyCarbonTests|HTMLReportTests|SlurmTests|PrometheusTests|\.PhaseTests/'
)
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
status=0
pids=()
for index in "${!streams[@]}"; do
    tests --filter "${streams[index]}" --skip "$quiet|$loud" > "$logs/$index" 2>&1 &
    pids+=($!)
done
named=$(IFS='|'; echo "${streams[*]}")
tests --skip "$named|$quiet|$loud" || status=$?
for index in "${!streams[@]}"; do
    wait "${pids[index]}" || status=$?
    echo "--- stream (${streams[index]}):"
    cat "$logs/$index"
done
echo "--- alone ($quiet):"
tests --filter "$quiet" || status=$?
echo "--- alone ($loud):"
tests --filter "$loud" || status=$?
exit "$status"
