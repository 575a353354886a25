#!/usr/bin/env bash
# Builds sustain, installs both binaries, the configuration (kept if present), the sysusers file and the unit,
# and enables sustain-measured. Run from the repository root, as root.
set -euo pipefail
cd "$(dirname "$0")/.."
apt-get install -y --no-install-recommends libpowercap-dev libsensors-dev libsqlite3-dev >/dev/null
swift build -c release --static-swift-stdlib --product sustain-measure
swift build -c release --static-swift-stdlib --product sustain-measured
install -m 0755 .build/release/sustain-measure .build/release/sustain-measured /usr/local/bin/
[ -e /etc/sustain/sustain.toml ] || install -D -m 0644 config/sustain.toml /etc/sustain/sustain.toml
install -D -m 0644 systemd/sustain.sysusers /usr/lib/sysusers.d/sustain.conf
install -D -m 0644 README.md /usr/local/share/doc/sustain/README.md
install -m 0644 systemd/sustain-measured.service /etc/systemd/system/sustain-measured.service
systemd-sysusers
systemctl daemon-reload
systemctl enable --now sustain-measured
echo "sustain-measured is running; add users to group sustain: usermod -aG sustain USER"
