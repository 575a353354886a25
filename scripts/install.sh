#!/usr/bin/env bash
# Installs everything sustain ships, or removes it again. Run from a clone, as root.
#
#   scripts/install.sh [--prefix DIR] [--no-build [--binaries DIR]] [--no-enable]   install (prefix /usr/local)
#   scripts/install.sh --uninstall [--prefix DIR]                  remove what the install put there
#
# DESTDIR (environment) installs into a staging root, as packagers do; then nothing is enabled or started.
# Installed: the wrapper, the service and the intensity fetcher (release builds, Swift runtime linked in); the
# configuration /etc/sustain/sustain.toml (kept when present); the sysusers file; the service's unit (enabled and
# started) and its TCP /metrics drop-in as an example; the fetcher's service and timer (installed, left disabled
# until a provider is set: see the README); the SLURM prolog and epilog; the Prometheus rules and the Grafana
# dashboard; the README and docs. Every file is listed in PREFIX/share/sustain/installed-files, which --uninstall
# reads: it removes those files and nothing else, and keeps /etc/sustain and the database (/var/lib/sustain).
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=/usr/local
bin=.build/release
build=yes
enable=yes
uninstall=no
while (($#)); do
    case "$1" in
        --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
        --prefix=*) prefix=${1#--prefix=}; shift ;;
        --no-build) build=no; shift ;;
        --binaries) bin=${2:?--binaries needs a directory}; build=no; shift 2 ;;
        --no-enable) enable=no; shift ;;
        --uninstall) uninstall=yes; shift ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
    esac
done
case "$prefix" in
    /*) ;;
    *) echo "install.sh: --prefix must be an absolute path, got $prefix" >&2; exit 64 ;;
esac
destdir=${DESTDIR:-}
[ -z "$destdir" ] || enable=no
manifest="$prefix/share/sustain/installed-files"
systemd_dir=/etc/systemd/system

if [ "$uninstall" = yes ]; then
    if [ ! -f "$destdir$manifest" ]; then
        echo "install.sh: no $destdir$manifest: nothing installed under $prefix by this script" >&2
        exit 1
    fi
    if [ "$enable" = yes ] && command -v systemctl > /dev/null; then
        systemctl disable --now sustain-measured.service sustain-intensity-fetch.timer 2> /dev/null || true
    fi
    # Newest first, so that directories come after what they hold; only files the manifest names, and the
    # directories it names only when they are empty.
    tac "$destdir$manifest" | while IFS= read -r path; do
        case "$path" in
            /etc/sustain/*) continue ;;  # the configuration stays
        esac
        if [ -d "$destdir$path" ] && [ ! -L "$destdir$path" ]; then
            rmdir "$destdir$path" 2> /dev/null || true
        else
            rm -f "$destdir$path"
        fi
    done
    rm -f "$destdir$manifest"
    # The directories of sustain's own, when the removal left them empty (rmdir removes nothing else).
    for directory in libexec/sustain share/sustain/systemd share/sustain/prometheus share/sustain/grafana \
        share/sustain share/doc/sustain; do
        rmdir "$destdir$prefix/$directory" 2> /dev/null || true
    done
    [ "$enable" = yes ] && command -v systemctl > /dev/null && systemctl daemon-reload || true
    echo "sustain removed from $prefix (kept: /etc/sustain, /var/lib/sustain)"
    exit 0
fi

if [ "$build" = yes ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
        # libcurl's headers and static library: the fetcher's FoundationNetworking links it.
        apt-get install -y --no-install-recommends libpowercap-dev libsensors-dev libsqlite3-dev \
            libcurl4-openssl-dev > /dev/null
    fi
    for product in sustain-measure sustain-measured sustain-intensity; do
        swift build -c release --static-swift-stdlib --product "$product"
    done
fi
for product in sustain-measure sustain-measured sustain-intensity; do
    [ -x "$bin/$product" ] || { echo "install.sh: $bin/$product is not built (run without --no-build)" >&2; exit 1; }
done

installed=()
# put MODE SOURCE TARGET: installs SOURCE at TARGET (under DESTDIR), with /usr/local/ in text files rewritten to
# the prefix, and records it.
put() {
    local mode=$1 source=$2 target=$3
    install -d -m 0755 "$(dirname "$destdir$target")"
    if [ "$prefix" != /usr/local ] && grep -Iq . "$source" 2> /dev/null; then
        sed "s|/usr/local/|$prefix/|g" "$source" > "$destdir$target.tmp"
        chmod "$mode" "$destdir$target.tmp"
        mv "$destdir$target.tmp" "$destdir$target"
    else
        install -m "$mode" "$source" "$destdir$target"
    fi
    installed+=("$target")
}

for product in sustain-measure sustain-measured sustain-intensity; do
    put 0755 "$bin/$product" "$prefix/bin/$product"
done
put 0755 slurm/prolog "$prefix/libexec/sustain/slurm-prolog"
put 0755 slurm/epilog "$prefix/libexec/sustain/slurm-epilog"
put 0644 systemd/sustain-measured.service "$systemd_dir/sustain-measured.service"
put 0644 systemd/sustain-intensity-fetch.service "$systemd_dir/sustain-intensity-fetch.service"
put 0644 systemd/sustain-intensity-fetch.timer "$systemd_dir/sustain-intensity-fetch.timer"
put 0644 systemd/sustain.sysusers /usr/lib/sysusers.d/sustain.conf
put 0644 systemd/sustain-measured.service.d/metrics.conf "$prefix/share/sustain/systemd/metrics.conf"
put 0644 systemd/sustain-measured.service.d/watch.conf "$prefix/share/sustain/systemd/watch.conf"
put 0644 prometheus/sustain-rules.yml "$prefix/share/sustain/prometheus/sustain-rules.yml"
put 0644 grafana/sustain-dashboard.json "$prefix/share/sustain/grafana/sustain-dashboard.json"
put 0644 config/sustain.toml "$prefix/share/sustain/sustain.toml.example"
put 0644 README.md "$prefix/share/doc/sustain/README.md"
for file in docs/*; do
    [ -f "$file" ] && put 0644 "$file" "$prefix/share/doc/sustain/$(basename "$file")"
done
if [ ! -e "$destdir/etc/sustain/sustain.toml" ]; then
    install -D -m 0644 config/sustain.toml "$destdir/etc/sustain/sustain.toml"  # kept by --uninstall
fi
install -d -m 0755 "$(dirname "$destdir$manifest")"
printf '%s\n' "${installed[@]}" > "$destdir$manifest"

if [ "$enable" = yes ]; then
    systemd-sysusers
    systemctl daemon-reload
    systemctl enable --now sustain-measured
    echo "sustain-measured is running; add users to group sustain: usermod -aG sustain USER"
    echo "hourly carbon: set SUSTAIN_INTENSITY_PROVIDER and ZONE (systemctl edit sustain-intensity-fetch.service),"
    echo "then systemctl enable --now sustain-intensity-fetch.timer"
else
    echo "installed under ${destdir:-/}$prefix (nothing enabled)"
fi
