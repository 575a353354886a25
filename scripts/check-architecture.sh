#!/usr/bin/env bash
# Checks that the tree keeps the architecture docs/architecture.md describes: each C module is imported by exactly one
# Swift file, system calls (Glibc) stay in the targets that own them, and the wrapper links no Foundation ICU,
# HTTP server, NIO or SQLite. Run by .ci/run; prints each violation and exits 1 when there is one.
set -euo pipefail
cd "$(dirname "$0")/.."
failed=0
fail() { echo "architecture: $*"; failed=1; }
# An import, with whatever access level or attribute it is written with (`internal import Glibc` is an import).
imp='^(@testable |@_implementationOnly |@preconcurrency )?((internal|public|private|fileprivate|package) )?import'

# One Swift file imports each C module.
declare -A owner=(
    [CPowercap]=Sources/Meter/PowercapSource.swift
    [CSensors]=Sources/Meter/SensorsSource.swift
    [CNVML]=Sources/Meter/NVMLSource.swift
    [CLinux]=Sources/LinuxSupport/Syscalls.swift
)
for module in "${!owner[@]}"; do
    found=$(grep -rlE "${imp} ${module}\b" Sources || true)
    [ "$found" = "${owner[$module]}" ] || fail "${module} must be imported by ${owner[$module]} alone, found: ${found:-none}"
done

# Glibc only where system calls live: the Linux support target, the sources, the service and the tools.
glibc=$(grep -rlE "${imp} Glibc\b" Sources \
    | grep -vE "^Sources/(LinuxSupport|Meter|Daemon|sustain-measured|sustain-bench|sustain-fakesys)/" || true)
[ -z "$glibc" ] || fail "Glibc imported outside LinuxSupport/Meter/Daemon and the service and test tools: $glibc"

# The pure rooms import nothing of the system.
pure=$(grep -rlE "${imp} (Glibc|Foundation|FoundationEssentials|LinuxSupport)\b" Sources/SustainCore Sources/Impact \
    || true)
[ -z "$pure" ] || fail "SustainCore and Impact must stay pure (no Glibc, Foundation or LinuxSupport): $pure"

# The wrapper's modules use FoundationEssentials, never all of Foundation (ICU).
for target in sustain-measure Reports SustainAPI Meter LinuxSupport SustainConfiguration IntensityData PowerControl; do
    bad=$(grep -lE "${imp} Foundation$" Sources/$target/*.swift || true)
    [ -z "$bad" ] || fail "$target imports Foundation (ICU): $bad"
done

# Dependencies point down: lower rooms never import higher ones.
up=$(grep -rlE "${imp} (Daemon|Reports|SustainConfiguration|SustainAPI|IntensityData)\b" Sources/SustainCore Sources/Impact \
    Sources/LinuxSupport Sources/Meter || true)
[ -z "$up" ] || fail "a lower room imports a higher one: $up"
http=$(grep -rlE "${imp} (Hummingbird|HummingbirdCore|NIOCore|GRDB|FoundationNetworking)\b" Sources/sustain-measure \
    Sources/PowerControl Sources/Reports Sources/SustainAPI Sources/Meter Sources/LinuxSupport Sources/SustainConfiguration \
    Sources/IntensityData || true)
[ -z "$http" ] || fail "the wrapper's modules must not import the HTTP server or the database: $http"

# Every room imports only rooms above it in docs/architecture.md's list (the library targets, in order).
rooms=(SustainCore LinuxSupport Meter Impact IntensityData SustainConfiguration SustainAPI Reports PowerControl Daemon)
for i in "${!rooms[@]}"; do
    for j in "${!rooms[@]}"; do
        [ "$j" -ge "$i" ] || continue
        [ "$j" -eq "$i" ] && continue
        found=$(grep -lE "${imp} ${rooms[$j]}\b" Sources/${rooms[$i]}/*.swift || true)
        [ -z "$found" ] || fail "${rooms[$i]} imports ${rooms[$j]}, which comes after it: $found"
    done
done

# The built wrapper, when there is one, links none of them.
binary=.build/debug/sustain-measure
if [ -x "$binary" ]; then
    linked=$(ldd "$binary" | grep -oE "lib(Foundation|FoundationInternationalization|_FoundationICU|NIO[A-Za-z]*|sqlite3)\.so" || true)
    [ -z "$linked" ] || fail "$binary links $linked"
fi

[ "$failed" = 0 ] && echo "architecture: ok (C modules, Glibc, Foundation, dependency direction, wrapper links)"
exit "$failed"
