#!/usr/bin/env bash
# Installs gatehouse as a systemd service: binary, unit, default config, an empty database, a
# system user, shell completions and man pages.
#
#   sudo scripts/install.sh                      # build (release) as you, install as root
#   scripts/install.sh --binary target/release/gatehouse   # as root: install a binary built before
#   sudo PREFIX=/opt/gatehouse scripts/install.sh
#   DESTDIR=/tmp/stage scripts/install.sh --binary ...     # into a staging root, no root needed
#
# Options:
#   --binary PATH    install this binary instead of building one
#   --build-as-root  allow `cargo build` as root when there is no SUDO_USER to build as
#   -h, --help       this text
#
# Environment: PREFIX (/usr/local): the binary, man pages and documentation; UNIT_DIR
# (/etc/systemd/system); DESTDIR (empty): a staging root prefixed to every path. With DESTDIR
# nothing outside it is touched: no user is created, no ownership is set (only modes), systemd is
# not told.
#
# Re-running it upgrades the binary, unit, completions and man pages and keeps an existing
# config and database (it only takes away permissions they should not have).
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
die() {
    echo "install.sh: $*" >&2
    exit 1
}

binary=
build_as_root=no
while [ $# -gt 0 ]; do
    case $1 in
        --binary)
            [ $# -ge 2 ] || die "--binary needs a path"
            binary=$2
            shift 2
            ;;
        --binary=*)
            binary=${1#--binary=}
            shift
            ;;
        --build-as-root)
            build_as_root=yes
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

# Paths given relative to where we were started, before moving to the checkout.
if [ -n "$binary" ]; then
    [ -f "$binary" ] && [ -x "$binary" ] || die "--binary $binary is not an executable file"
    binary=$(realpath "$binary")
fi
destdir=${DESTDIR:-}
if [ -n "$destdir" ]; then
    mkdir -p "$destdir"
    destdir=$(realpath "$destdir")
fi
cd "$(dirname "$0")/.."

prefix=${PREFIX:-/usr/local}
unit_dir=${UNIT_DIR:-/etc/systemd/system}
config_dir=/etc/gatehouse
state_dir=/var/lib/gatehouse
db=$state_dir/gatehouse.db
user=gatehouse

# Ownership is set only on a real install; a staging root gets the modes alone.
if [ -n "$destdir" ]; then
    staging=yes
else
    staging=no
    [ "$(id -u)" -eq 0 ] || die "run as root (it creates a user and writes to $prefix and /etc), or set DESTDIR to stage into a directory"
fi

# --- the binary: built as the invoking user, never as root unless asked -------------------------
if [ -n "$binary" ]; then
    :
elif [ "$(id -u)" -ne 0 ]; then
    cargo build --release --locked
    binary=target/release/gatehouse
elif [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    if [ -e target ] && [ "$(stat -c %U target)" != "$SUDO_USER" ]; then
        die "target/ belongs to $(stat -c %U target), not $SUDO_USER (an earlier build as root?): remove it or 'chown -R $SUDO_USER target'"
    fi
    echo "== cargo build --release --locked (as $SUDO_USER)"
    # sudo's secure_path does not hold ~/.cargo/bin: take the user's own environment.
    sudo -u "$SUDO_USER" -H -- bash -c \
        '[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"; cd "$1" && cargo build --release --locked' \
        install.sh "$PWD"
    binary=target/release/gatehouse
elif [ "$build_as_root" = yes ]; then
    echo "== cargo build --release --locked (as root, --build-as-root)"
    cargo build --release --locked
    binary=target/release/gatehouse
else
    die "refusing to run cargo as root: run this through sudo from your own account (it builds as \$SUDO_USER), build first and pass --binary target/release/gatehouse, or pass --build-as-root"
fi

# owner USER:GROUP MODE PATH...: the mode always, the owner unless staging.
own() {
    local owner=$1 mode=$2
    shift 2
    chmod "$mode" "$@"
    if [ "$staging" = no ]; then
        chown "$owner" "$@"
    fi
}

# --- the system user ---------------------------------------------------------------------------
if [ "$staging" = no ] && ! id "$user" >/dev/null 2>&1; then
    useradd --system --home-dir "$state_dir" --no-create-home --shell /usr/sbin/nologin "$user"
fi

install -d -m 0755 "$destdir$prefix/bin"
install -m 0755 "$binary" "$destdir$prefix/bin/gatehouse"
install -d -m 0755 "$destdir$prefix/share/doc/gatehouse"
install -m 0644 README.md "$destdir$prefix/share/doc/gatehouse/README.md"
if [ -d docs ]; then
    install -d -m 0755 "$destdir$prefix/share/doc/gatehouse/docs"
    install -m 0644 docs/*.md "$destdir$prefix/share/doc/gatehouse/docs/"
fi

# --- the config: root:gatehouse 0640 (totp.key and the database password live there) ----------
install -d -m 0755 "$destdir$config_dir"
own "root:$user" 0750 "$destdir$config_dir"
config=$destdir$config_dir/gatehouse.toml
if [ ! -e "$config" ]; then
    # Written with umask 077 and moved in with its final mode: never readable by others.
    tmp=$(umask 077 && mktemp "$destdir$config_dir/.gatehouse.toml.XXXXXX")
    "$binary" config default >"$tmp"
    own "root:$user" 0640 "$tmp"
    mv "$tmp" "$config"
    echo "wrote $config_dir/gatehouse.toml (0640$([ "$staging" = no ] && echo ", root:$user"))"
else
    # An earlier install.sh wrote it 0644: take away what others may read, keep the contents.
    if [ -n "$(find "$config" -perm /o=rwx)" ]; then
        chmod o-rwx "$config"
        if [ "$staging" = no ] && [ "$(stat -c %G "$config")" = root ]; then
            chgrp "$user" "$config"
        fi
        echo "$config_dir/gatehouse.toml was readable by every user: now $(stat -c %a "$config")"
    fi
    echo "kept the existing $config_dir/gatehouse.toml"
fi

# --- the database: gatehouse:gatehouse 0600 (it holds session keys) ----------------------------
install -d -m 0700 "$destdir$state_dir"
own "$user:$user" 0700 "$destdir$state_dir"
if [ ! -e "$destdir$db" ]; then
    (umask 077 && "$binary" --log-level warn --db "$destdir$db" db init)
    echo "created $db (0600$([ "$staging" = no ] && echo ", $user:$user"))"
else
    echo "kept the existing $db"
fi
# The file and SQLite's companions (-wal, -shm, -journal), new or kept.
for f in "$destdir$db" "$destdir$db"-wal "$destdir$db"-shm "$destdir$db"-journal; do
    if [ -e "$f" ]; then
        own "$user:$user" 0600 "$f"
    fi
done

# --- shell completions and man pages, generated by the binary just installed -------------------
if "$binary" completions --help >/dev/null 2>&1; then
    install -d -m 0755 "$destdir/usr/share/bash-completion/completions" \
        "$destdir/usr/share/zsh/vendor-completions" "$destdir/usr/share/fish/vendor_completions.d"
    "$binary" completions bash >"$destdir/usr/share/bash-completion/completions/gatehouse"
    "$binary" completions zsh >"$destdir/usr/share/zsh/vendor-completions/_gatehouse"
    "$binary" completions fish >"$destdir/usr/share/fish/vendor_completions.d/gatehouse.fish"
    chmod 0644 "$destdir/usr/share/bash-completion/completions/gatehouse" \
        "$destdir/usr/share/zsh/vendor-completions/_gatehouse" \
        "$destdir/usr/share/fish/vendor_completions.d/gatehouse.fish"
    echo "installed bash, zsh and fish completions"
else
    echo "install.sh: this gatehouse has no 'completions' command; no shell completions installed" >&2
fi
if "$binary" man --help >/dev/null 2>&1; then
    pages=$(mktemp -d)
    trap 'rm -rf "$pages"' EXIT
    "$binary" man --out-dir "$pages"
    install -d -m 0755 "$destdir$prefix/share/man/man1"
    install -m 0644 "$pages"/*.1 "$destdir$prefix/share/man/man1/"
    echo "installed man pages in $prefix/share/man/man1"
else
    echo "install.sh: this gatehouse has no 'man' command; no man pages installed" >&2
fi

# --- the unit -----------------------------------------------------------------------------------
install -d -m 0755 "$destdir$unit_dir"
sed -e "s#/usr/local/bin/gatehouse#$prefix/bin/gatehouse#" \
    -e "s#/usr/local/share/doc/gatehouse#$prefix/share/doc/gatehouse#" \
    scripts/gatehouse.service >"$destdir$unit_dir/gatehouse.service"
chmod 0644 "$destdir$unit_dir/gatehouse.service"

if [ "$staging" = yes ]; then
    echo "staged into $destdir; systemd was not told"
    exit 0
fi
if command -v systemd-analyze >/dev/null 2>&1; then
    systemd-analyze verify "$unit_dir/gatehouse.service"
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    echo "installed; start with: systemctl enable --now gatehouse"
else
    echo "installed; systemd is not running here, so nothing was started"
fi
echo "accounts and realms: sudo -u $user $prefix/bin/gatehouse --db $db account create NAME"
