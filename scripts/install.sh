#!/usr/bin/env bash
# Installs gatehouse as a systemd service: binary, unit, default config, and a system user.
#
#   sudo scripts/install.sh            # build (release) and install
#   PREFIX=/opt/gatehouse scripts/install.sh
#
# Re-running it upgrades the binary and unit and keeps an existing config and database.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=${PREFIX:-/usr/local}
unit_dir=${UNIT_DIR:-/etc/systemd/system}
config_dir=/etc/gatehouse

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root (it creates a user and writes to $prefix and /etc)" >&2
    exit 1
fi

cargo build --release --locked
install -D -m 0755 target/release/gatehouse "$prefix/bin/gatehouse"
install -D -m 0644 README.md "$prefix/share/doc/gatehouse/README.md"

if ! id gatehouse >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/gatehouse --no-create-home \
        --shell /usr/sbin/nologin gatehouse
fi

install -d -m 0755 "$config_dir"
if [ ! -e "$config_dir/gatehouse.toml" ]; then
    "$prefix/bin/gatehouse" config default > "$config_dir/gatehouse.toml"
    chmod 0644 "$config_dir/gatehouse.toml"
fi
install -d -m 0750 -o gatehouse -g gatehouse /var/lib/gatehouse

sed "s#/usr/local/bin/gatehouse#$prefix/bin/gatehouse#" scripts/gatehouse.service \
    > "$unit_dir/gatehouse.service"
chmod 0644 "$unit_dir/gatehouse.service"

if command -v systemd-analyze >/dev/null 2>&1; then
    systemd-analyze verify "$unit_dir/gatehouse.service"
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    echo "installed; start with: systemctl enable --now gatehouse"
else
    echo "installed; systemd is not running here, so nothing was started"
fi
echo "accounts and realms: sudo -u gatehouse $prefix/bin/gatehouse --db /var/lib/gatehouse/gatehouse.db account create NAME"
