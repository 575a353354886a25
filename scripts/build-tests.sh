#!/usr/bin/env bash
# Builds every product and the tests, in debug, as scripts/test.sh runs them (CI starts it early, beside the
# installation of what only the tests need; scripts/test.sh then finds it built).
set -euo pipefail
cd "$(dirname "$0")/.."

# Without indexing the toolchain's own modules (Foundation, Glibc, Dispatch for every module built): the index
# store is still written, for test discovery, and a clean build takes a fifth less CPU (5m35 s -> 4m32 s here).
exec swift build --build-tests -Xswiftc -index-ignore-system-modules
