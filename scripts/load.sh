#!/usr/bin/env bash
# Load run: starts a release gatehouse on a throw-away database, creates an account and a
# realm, runs `gatehouse load` against it, and stops it. Prints logons/s and latency.
#
#   scripts/load.sh [LOGONS] [CONCURRENCY] [BUILD]
#
# Environment:
#   STORE=sqlite   (default) an SQLite file
#   STORE=mariadb  a private MariaDB server in the temporary directory (mariadbd and
#                  mariadb-install-db must be installed; durable: a flush per commit)
#   STORE=both     SQLite and MariaDB alternately, RUNS times each, then the medians
#   NODES=2        (with mariadb) also two gatehouse nodes on the one database, the load
#                  split between them, beside one node with the same total load
#   RUNS=3         runs per configuration when comparing
#   PORT=17240     the first port (below the ephemeral range, so the readiness probe cannot
#                  connect to itself); nodes and the database take the next few
set -euo pipefail
cd "$(dirname "$0")/.."

logons=${1:-5000}
concurrency=${2:-16}
build=${3:-12340}
port=${PORT:-17240}
store=${STORE:-sqlite}
nodes=${NODES:-1}
runs=${RUNS:-3}

case "$store" in sqlite | mariadb | both) ;; *)
    echo "load.sh: STORE must be sqlite, mariadb or both" >&2
    exit 2
    ;;
esac

cargo build --release --quiet
bin=target/release/gatehouse
dir=$(mktemp -d)
servers=()
db_pid=
cleanup() {
    for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${servers[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "$db_pid" ]; then
        kill "$db_pid" 2>/dev/null || true
        wait "$db_pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
}
trap cleanup EXIT

# The load comes from one address: exempt it from the per-address limits (README "Security").
# No realm link (--link-listen off below): its port would collide with a running gatehouse.
printf '[limits]\nexempt = ["127.0.0.1/32"]\n' > "$dir/gatehouse.toml"

wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "load.sh: nothing listens on 127.0.0.1:$1" >&2
    return 1
}

db_port=$((port + 10))
start_mariadb() {
    local mariadbd install root=()
    mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
    install=$(command -v mariadb-install-db || echo /usr/bin/mariadb-install-db)
    if [ ! -x "$mariadbd" ] || [ ! -x "$install" ]; then
        echo "load.sh: STORE=$store needs mariadbd and mariadb-install-db (apt-get install mariadb-server)" >&2
        exit 2
    fi
    [ "$(id -u)" = 0 ] && root=(--user=root)
    "$install" --no-defaults --datadir="$dir/mysql" --auth-root-authentication-method=normal \
        --skip-test-db "${root[@]}" >/dev/null
    "$mariadbd" --no-defaults --datadir="$dir/mysql" --port="$db_port" --bind-address=127.0.0.1 \
        --socket="$dir/mysql.sock" --log-error="$dir/mysql.err" --skip-grant-tables \
        --skip-log-bin --innodb-buffer-pool-size=128M "${root[@]}" &
    db_pid=$!
    wait_port "$db_port"
    for _ in $(seq 50); do
        mariadb --no-defaults -S "$dir/mysql.sock" -u root -e 'CREATE DATABASE IF NOT EXISTS g' \
            2>/dev/null && return 0
        sleep 0.2
    done
    echo "load.sh: the private MariaDB does not answer (see $dir/mysql.err)" >&2
    exit 1
}

# A fresh database of the kind asked for, with the load account and a realm; prints its --db.
fresh_db() {
    local db
    case "$1" in
    sqlite)
        rm -f "$dir/g.db"*
        db="$dir/g.db"
        ;;
    mariadb)
        mariadb --no-defaults -S "$dir/mysql.sock" -u root \
            -e 'DROP DATABASE IF EXISTS g; CREATE DATABASE g'
        db="mysql://root@127.0.0.1:$db_port/g"
        ;;
    esac
    "$bin" db init --db "$db" >/dev/null
    "$bin" account create loadtest --password-stdin --db "$db" <<< 'loadtest' >/dev/null
    "$bin" realm add --name Azeroth --address 127.0.0.1:8085 --db "$db" >/dev/null
    echo "$db"
}

# Starts N nodes on one database, on port, port+1, …
serve() {
    local db=$1 n=$2 i
    servers=()
    for ((i = 0; i < n; i++)); do
        "$bin" serve --config "$dir/gatehouse.toml" --listen "127.0.0.1:$((port + i))" \
            --link-listen off --db "$db" --log-level warn &
        servers+=($!)
    done
    for ((i = 0; i < n; i++)); do wait_port "$((port + i))"; done
}

stop() {
    for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${servers[@]}"; do wait "$pid" 2>/dev/null || true; done
    servers=()
}

# One load against each of N nodes at once, the logons and the concurrency split between
# them; prints each node's report and, last, the summed rate.
load() {
    local n=$1 i total=0 rate loads=()
    for ((i = 0; i < n; i++)); do
        "$bin" load --server "127.0.0.1:$((port + i))" --account loadtest --password loadtest \
            --logons $((logons / n)) --concurrency $((concurrency / n)) --build "$build" \
            > "$dir/load.$i" &
        loads+=($!)
    done
    for pid in "${loads[@]}"; do wait "$pid"; done
    for ((i = 0; i < n; i++)); do
        cat "$dir/load.$i" >&2
        rate=$(sed -n 's/.*= \([0-9]*\) logons\/s.*/\1/p' "$dir/load.$i")
        total=$((total + ${rate:-0}))
    done
    echo "$total"
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

if [ "$store" = sqlite ] && [ "$nodes" = 1 ]; then
    serve "$(fresh_db sqlite)" 1
    "$bin" load --server "127.0.0.1:$port" --account loadtest --password loadtest \
        --logons "$logons" --concurrency "$concurrency" --build "$build"
    exit 0
fi

[ "$store" = sqlite ] && { echo "load.sh: NODES=2 needs STORE=mariadb or both" >&2; exit 2; }
start_mariadb

configs=()
[ "$store" = both ] && configs+=(sqlite)
configs+=(mariadb)
[ "$nodes" = 2 ] && configs+=(mariadb-2-nodes)

declare -A rates
for ((r = 1; r <= runs; r++)); do
    for config in "${configs[@]}"; do
        case "$config" in
        sqlite) serve "$(fresh_db sqlite)" 1 && n=1 ;;
        mariadb) serve "$(fresh_db mariadb)" 1 && n=1 ;;
        mariadb-2-nodes) serve "$(fresh_db mariadb)" 2 && n=2 ;;
        esac
        echo "== run $r: $config" >&2
        rate=$(load "$n")
        stop
        rates[$config]="${rates[$config]:-} $rate"
    done
done

echo
echo "$logons logons of build $build at concurrency $concurrency, $runs runs each, alternating"
printf '%-18s %12s   %s\n' configuration "median/s" "runs (logons/s)"
for config in "${configs[@]}"; do
    # shellcheck disable=SC2086
    printf '%-18s %12s   %s\n' "$config" "$(printf '%s\n' ${rates[$config]} | median)" \
        "${rates[$config]# }"
done
