#!/usr/bin/env bash
# Load run: starts a release gatehouse on a throw-away database, creates an account and a
# realm, runs `gatehouse load` against it, and stops it. Prints logons/s and latency.
#
#   scripts/load.sh [LOGONS] [CONCURRENCY] [BUILD]
set -euo pipefail
cd "$(dirname "$0")/.."

logons=${1:-5000}
concurrency=${2:-16}
build=${3:-12340}
# Below the kernel's ephemeral range (32768-60999), so the readiness probe cannot connect to itself.
port=${PORT:-17240}

cargo build --release --quiet
bin=target/release/gatehouse
dir=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT

"$bin" account create loadtest --password-stdin --db "$dir/g.db" <<< 'loadtest' >/dev/null
"$bin" realm add --name Azeroth --address 127.0.0.1:8085 --db "$dir/g.db" >/dev/null
# The load comes from one address: exempt it from the per-address limits (README "Security").
printf '[limits]\nexempt = ["127.0.0.1/32"]\n' > "$dir/gatehouse.toml"
"$bin" serve --config "$dir/gatehouse.toml" --listen "127.0.0.1:$port" --db "$dir/g.db" --log-level warn &
server=$!
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

"$bin" load --server "127.0.0.1:$port" --account loadtest --password loadtest \
    --logons "$logons" --concurrency "$concurrency" --build "$build"
