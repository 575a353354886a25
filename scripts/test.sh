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

swift build --build-tests
# Line-buffered (stdbuf), so that a log cut short still ends at the test that was running.
stdbuf -oL -eL swift test --skip-build --no-parallel "$@"
