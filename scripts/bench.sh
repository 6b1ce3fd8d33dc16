#!/usr/bin/env bash
# The benchmark suite of issue 13: builds release binaries, measures, and prints ONE markdown
# table on standard output (progress goes to standard error). About 2 minutes for one build,
# about 4 with --baseline, on a 2-core machine.
#
#   scripts/bench.sh [--baseline PATH] [--baseline-alloc PATH] [--quick]
#
#   --baseline PATH        a second (older) gatehouse binary: every server-side row is measured
#                          for both, interleaved run by run, and the table gets a baseline
#                          column and this/baseline ratios. The load client is always this
#                          build's (the baseline may not have its modes).
#   --baseline-alloc PATH  the baseline tree's alloc_logon bench executable for row 6
#                          (`cargo build --release --bench alloc_logon` there; the path is
#                          target/release/deps/alloc_logon-HASH). Default: an alloc_logon
#                          beside the baseline binary (this script leaves a copy beside its
#                          own), else row 6 says n/a for the baseline.
#   --quick                one short run per row (a smoke test, not figures to quote).
#
# Environment: RUNS (3) runs per figure, the median is reported; SECS (2) measured seconds per
# load run (after 0.5 s of warm-up). The server runs pinned to CPU 0 (taskset -c 0: all its
# threads), the load client pinned to CPU 1. Each run gets a fresh SQLite database in a
# temporary directory on a real disk (not tmpfs); every commit is synced, as the server does.
# The rows are described in README.md, "Benchmarks".
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-3}
secs=${SECS:-2}
warmup=0.5
baseline=
baseline_alloc=
while [ $# -gt 0 ]; do
    case "$1" in
    --baseline) baseline=${2:?--baseline needs a path}; shift 2 ;;
    --baseline-alloc) baseline_alloc=${2:?--baseline-alloc needs a path}; shift 2 ;;
    --quick) runs=1; secs=1; shift ;;
    -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
for tool in taskset awk sed sort; do
    command -v "$tool" >/dev/null || { echo "bench.sh: needs $tool" >&2; exit 2; }
done
if [ "$(nproc)" -lt 2 ]; then
    echo "bench.sh: needs two CPUs (server on CPU 0, client on CPU 1)" >&2
    exit 2
fi

say() { echo "bench: $*" >&2; }

# --- build -----------------------------------------------------------------------------------
say "building (cargo build --release)"
built=$(cargo build --release --bin gatehouse --bench alloc_logon --message-format=json) || {
    echo "bench.sh: the build failed" >&2
    exit 1
}
executable() { sed -n 's/.*"executable":"\([^"]*'"$1"'[^"/]*\)".*/\1/p' <<< "$built" | tail -1; }
bin_new=$(executable gatehouse)
alloc_new=$(executable alloc_logon)
[ -x "$bin_new" ] && [ -x "$alloc_new" ] || { echo "bench.sh: built binaries not found" >&2; exit 1; }
# A stable name beside the binary, so that a later run with this build as --baseline finds it.
cp -f "$alloc_new" "$(dirname "$bin_new")/alloc_logon"
client=$bin_new

sides=(new)
declare -A bin=([new]=$bin_new)
declare -A alloc=([new]=$alloc_new)
if [ -n "$baseline" ]; then
    [ -x "$baseline" ] || { echo "bench.sh: --baseline $baseline is not an executable" >&2; exit 2; }
    sides+=(base)
    bin[base]=$baseline
    if [ -z "$baseline_alloc" ] && [ -x "$(dirname "$baseline")/alloc_logon" ]; then
        baseline_alloc="$(dirname "$baseline")/alloc_logon"
    fi
    alloc[base]=$baseline_alloc
fi

# --- the scratch directory, processes, cleanup -----------------------------------------------
dir=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")
if [ "$(stat -f -c %T "$dir")" = tmpfs ]; then
    # Synced commits on tmpfs cost nothing: that would flatter every logon figure.
    rmdir "$dir"
    mkdir -p "$PWD/target"
    dir=$(mktemp -d "$PWD/target/gatehouse-bench.XXXXXX")
fi
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 10,000 parked connections need as many descriptors in the server and in the client.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 10300 ]; then
    say "warning: ulimit -n is $(ulimit -n); the 10,000-connection row may fail"
fi

# Per-address limits off for loopback, room for 10,000 connections, a parked connection may
# wait (logon_secs), realm lists as fast as asked (row 5), no realm link (in the file, not
# with --link-listen off: a --baseline binary may be older than that flag).
cat > "$dir/gatehouse.toml" <<'EOF'
[limits]
exempt = ["127.0.0.0/8"]
max_connections = 12000
realm_list_interval_ms = 0

[timeouts]
logon_secs = 600

[link]
listen = []
EOF

# Synced 4 KiB appends per second on the database's disk: one writer committing one logon at
# a time can make no more commits than this (a rough figure, taken at the start and the end).
syncs() {
    dd if=/dev/zero of="$dir/sync.test" bs=4k count=1000 oflag=dsync 2> "$dir/sync.out" || true
    rm -f "$dir/sync.test"
    awk '/copied/ {for (i = 1; i <= NF; i++) if ($i == "s,") print int(1000 / $(i - 1))}' "$dir/sync.out"
}
syncs_start=$(syncs)

account=loadtest
clk_tck=$(getconf CLK_TCK)
started_at=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

forget() { # forget PID: it has been waited for
    local keep=() pid
    for pid in "${pids[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done
    pids=("${keep[@]}")
}

# seed SIDE DB REALMS: a fresh database made by SIDE's binary: the load account and REALMS
# realms with realistic names (the longer the entries, the fewer fit the output ring).
seed() {
    local b=${bin[$1]} db=$2 n=$3
    rm -f "$db" "$db"-wal "$db"-shm
    # Only `db init` creates a database; a baseline older than that rule has no need of it
    # (its `account create` creates one), and may not know the command's answer: ignored.
    "$b" db init --db "$db" >/dev/null 2>&1 || true
    "$b" account create "$account" --password-stdin --db "$db" <<< "$account" >/dev/null
    add_realms "$1" "$db" 1 "$n"
}

add_realms() { # add_realms SIDE DB FROM TO
    local b=${bin[$1]} i
    for ((i = $3; i <= $4; i++)); do
        "$b" realm add --name "$(printf 'Realm %03d of the bench, PvP' "$i")" \
            --address "$(printf 'world-%03d.bench.gatehouse.invalid:8085' "$i")" \
            --db "$2" >/dev/null
    done
}

# serve SIDE DB [ENV=VALUE]: starts SIDE's server on CPU 0 on a free port; sets server_pid and
# port. The port is read from the server's own log line.
serve() {
    local side=$1 db=$2 log="$dir/server.log" i
    : > "$log"
    env ${3:+"$3"} taskset -c 0 "${bin[$side]}" serve --config "$dir/gatehouse.toml" \
        --db "$db" --listen 127.0.0.1:0 2>> "$log" &
    server_pid=$!
    pids+=("$server_pid")
    port=
    for i in $(seq 200); do
        port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log" | head -1)
        [ -n "$port" ] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "bench.sh: the $side server did not start:" >&2
    tail -5 "$log" >&2
    exit 1
}

stop_server() {
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    forget "$server_pid"
}

status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }
# CPU 0's busy ticks (user, nice, system, irq, softirq, steal): less the server's, what else
# ran there (other processes, the hypervisor's steal).
cpu0_busy() { awk '$1 == "cpu0" {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }

# load OUT ARGS...: this build's load client on CPU 1 against the running server.
load() {
    local out=$1
    shift
    taskset -c 1 "$client" load --server "127.0.0.1:$port" --account "$account" \
        --password "$account" --fixed-ephemeral "$@" > "$out" 2>&1 || true
}

# field FILE KEY: a value from the summary line.
field() {
    awk -v k="$2" '/^summary:/ {for (i = 2; i <= NF; i++) {split($i, a, "="); if (a[1] == k) v = a[2]}} END {print v}' "$1"
}

median() { sort -g | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]; else print ""}'; }

declare -A R # R[name.side] = value

# --- 1. SRP ceiling --------------------------------------------------------------------------
say "1. SRP ceiling"
for ((r = 1; r <= runs; r++)); do
    for side in "${sides[@]}"; do
        out="$dir/ceiling.$side.$r"
        if taskset -c 0 "${bin[$side]}" srp-ceiling --seconds 1 --runs 1 > "$out" 2>/dev/null; then
            R[ceiling.$side]+="$(field "$out" rate) "
            R[ceilus.$side]+="$(field "$out" per_logon_us) "
        fi
    done
done
for side in "${sides[@]}"; do
    R[ceiling.$side]=$(tr ' ' '\n' <<< "${R[ceiling.$side]:-}" | grep . | median || true)
done

# --- 2 and 7. full logons per concurrency ----------------------------------------------------
# Round after round of every level (and side), so a noisy stretch of the machine spreads over
# the levels instead of landing on one.
levels=(1 8 64 512)
for ((r = 1; r <= runs; r++)); do
    say "2. full logons, concurrency ${levels[*]}, round $r of $runs"
    for c in "${levels[@]}"; do
        for side in "${sides[@]}"; do
            db="$dir/run.db"
            seed "$side" "$db" 1
            serve "$side" "$db"
            out="$dir/logons.$c.$side.$r"
            t0=$(date +%s.%N) ticks0=$(cpu_ticks "$server_pid") busy0=$(cpu0_busy)
            load "$out" --concurrency "$c" --warmup "$warmup" --duration "$secs"
            t1=$(date +%s.%N) ticks1=$(cpu_ticks "$server_pid") busy1=$(cpu0_busy)
            R[rss.$c.$side]+="$(status_kb "$server_pid" VmHWM) "
            stop_server
            R[rate.$c.$side]+="$(field "$out" rate) "
            R[ccpu.$c.$side]+="$(field "$out" client_cpu) "
            R[scpu.$c.$side]+="$(awk -v a="$ticks0" -v b="$ticks1" -v t0="$t0" -v t1="$t1" -v hz="$clk_tck" \
                'BEGIN {printf "%.2f", (b - a) / hz / (t1 - t0)}') "
            R[ocpu.$c.$side]+="$(awk -v a="$((busy1 - busy0 - ticks1 + ticks0))" -v t0="$t0" -v t1="$t1" \
                -v hz="$clk_tck" 'BEGIN {x = a / hz / (t1 - t0); printf "%.2f", x < 0 ? 0 : x}') "
            f=$(field "$out" failed)
            R[fail.$c.$side]=$((${R[fail.$c.$side]:-0} + ${f:-1}))
        done
    done
done

# --- 3. latency at half the maximum rate (open loop) -----------------------------------------
say "3. latency at half the maximum rate"
for side in "${sides[@]}"; do
    best=0
    for c in "${levels[@]}"; do
        m=$(tr ' ' '\n' <<< "${R[rate.$c.$side]}" | grep . | median)
        best=$(awk -v a="$best" -v b="${m:-0}" 'BEGIN {print (b > a) ? b : a}')
    done
    R[half.$side]=$(awk -v b="$best" 'BEGIN {printf "%d", b / 2}')
    [ "${R[half.$side]}" -gt 0 ] || say "warning: $side: no rate from row 2; row 3 skipped"
done
for ((r = 1; r <= runs; r++)); do
    for side in "${sides[@]}"; do
        [ "${R[half.$side]}" -gt 0 ] || continue
        db="$dir/run.db"
        seed "$side" "$db" 1
        serve "$side" "$db"
        out="$dir/paced.$side.$r"
        load "$out" --rate "${R[half.$side]}" --concurrency 4096 --warmup "$warmup" --duration "$secs"
        stop_server
        for k in p50_ms p99_ms max_ms late failed; do R[paced.$k.$side]+="$(field "$out" "$k") "; done
    done
done

# --- 4. server memory with connections parked ------------------------------------------------
# park SIDE N [--logged-in]: on a fresh server, the idle RSS, then N connections parked and the
# RSS with them (kB); sets rss0 and rssn.
park() {
    local side=$1 n=$2 out="$dir/park.$1.$2$3" db="$dir/run.db" cpid i
    seed "$side" "$db" 1
    serve "$side" "$db"
    sleep 0.3
    rss0=$(status_kb "$server_pid" VmRSS) anon0=$(status_kb "$server_pid" RssAnon)
    taskset -c 1 "$client" load --server "127.0.0.1:$port" --account "$account" \
        --password "$account" --fixed-ephemeral --park "$n" $3 --concurrency 256 --hold 120 \
        > "$out" 2>&1 &
    cpid=$!
    pids+=("$cpid")
    rssn= anonn=
    for i in $(seq 1200); do
        if grep -q '^parked:' "$out"; then
            sleep 0.5
            rssn=$(status_kb "$server_pid" VmRSS) anonn=$(status_kb "$server_pid" RssAnon)
            break
        fi
        kill -0 "$cpid" 2>/dev/null || break
        sleep 0.05
    done
    park_failed=$(sed -n 's/^parked: [0-9]* (\([0-9]*\) failed).*/\1/p' "$out" | head -1)
    kill "$cpid" 2>/dev/null || true
    wait "$cpid" 2>/dev/null || true
    forget "$cpid"
    stop_server
    [ -n "$rssn" ] || say "warning: $side: $n connections were not all parked: $(tail -3 "$out")"
}
for side in "${sides[@]}"; do
    say "4. server memory ($side)"
    park "$side" 1000 ""
    R[rss0.$side]=$rss0 R[anon0.$side]=$anon0
    R[park1k.$side]=$rssn R[park1k0.$side]=$rss0 R[park1ka.$side]=$anonn R[park1kf.$side]=$park_failed
    park "$side" 10000 ""
    R[park10k.$side]=$rssn R[park10k0.$side]=$rss0 R[park10ka.$side]=$anonn R[park10kf.$side]=$park_failed
    park "$side" 1000 --logged-in
    R[idle1k.$side]=$rssn R[idle1k0.$side]=$rss0 R[idle1ka.$side]=$anonn R[idle1kf.$side]=$park_failed
done

# --- 5. realm-list round trip with the store slowed ------------------------------------------
for side in "${sides[@]}"; do
    say "5. realm lists, store slowed to 50 ms per call ($side)"
    db="$dir/run.db"
    seed "$side" "$db" 1
    serve "$side" "$db" GATEHOUSE_TEST_STORE_DELAY_MS=50
    # Logons keep the slow store busy meanwhile (4 in flight: with one read and one write
    # thread the queue stays under the pool's 2 s "busy" limit).
    taskset -c 1 "$client" load --server "127.0.0.1:$port" --account "$account" \
        --password "$account" --fixed-ephemeral --concurrency 4 --duration 6 \
        > "$dir/slow.logons.$side" 2>&1 &
    bg=$!
    pids+=("$bg")
    sleep 0.5
    load "$dir/slow.lists.$side" --realm-lists 1000 --concurrency 8
    wait "$bg" 2>/dev/null || true
    forget "$bg"
    stop_server
    R[rl.$side]="$(field "$dir/slow.lists.$side" p50_ms) $(field "$dir/slow.lists.$side" p99_ms)"
    R[rln.$side]=$(field "$dir/slow.lists.$side" samples)
    R[rlfail.$side]=$(field "$dir/slow.lists.$side" failed)
    R[slowlogon.$side]=$(field "$dir/slow.logons.$side" p50_ms)
done

# --- 6. heap allocations per logon on the loop thread ----------------------------------------
for side in "${sides[@]}"; do
    say "6. allocations per logon ($side)"
    a=${alloc[$side]:-}
    out="$dir/alloc.$side"
    if [ -n "$a" ] && [ -x "$a" ] &&
        taskset -c 0,1 "$a" --logons 2000 --warmup 200 > "$out" 2> "$dir/alloc.$side.log"; then
        R[alloc.$side]="$(field "$out" allocs_per_logon) $(field "$out" bytes_per_logon)"
    fi
done

# --- 7. growth with the realm count ----------------------------------------------------------
realm_counts=(1 16 64 255)
say "7. seeding ${realm_counts[*]} realms"
for side in "${sides[@]}"; do
    seed "$side" "$dir/seed.$side.db" 0
    prev=0
    for n in "${realm_counts[@]}"; do
        add_realms "$side" "$dir/seed.$side.db" $((prev + 1)) "$n"
        cp "$dir/seed.$side.db" "$dir/seed.$side.$n.db"
        prev=$n
    done
done
for ((r = 1; r <= runs; r++)); do
    say "7. ${realm_counts[*]} realms, round $r of $runs"
    for n in "${realm_counts[@]}"; do
        for side in "${sides[@]}"; do
            db="$dir/run.db"
            rm -f "$db" "$db"-wal "$db"-shm
            cp "$dir/seed.$side.$n.db" "$db"
            serve "$side" "$db"
            out="$dir/realms.$n.$side.$r"
            t0=$(date +%s.%N) ticks0=$(cpu_ticks "$server_pid")
            load "$out" --concurrency 64 --warmup "$warmup" --duration "$secs"
            t1=$(date +%s.%N) ticks1=$(cpu_ticks "$server_pid")
            R[rrss.$n.$side]+="$(status_kb "$server_pid" VmHWM) "
            stop_server
            R[rscpu.$n.$side]+="$(awk -v a="$ticks0" -v b="$ticks1" -v t0="$t0" -v t1="$t1" -v hz="$clk_tck" \
                'BEGIN {printf "%.2f", (b - a) / hz / (t1 - t0)}') "
            R[rccpu.$n.$side]+="$(field "$out" client_cpu) "
            R[rrate.$n.$side]+="$(field "$out" rate) "
            R[rgot.$n.$side]=$(field "$out" realms)
        done
    done
done

elapsed=$(($(date +%s) - started_at))
syncs_end=$(syncs)

# --- the table -------------------------------------------------------------------------------
med() { tr ' ' '\n' <<< "${R[$1]:-}" | grep . | median || true; }
mib() { [ -n "$1" ] && awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }
per_conn() { # per_conn RSS_N RSS_0 N
    [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {printf "%.2f", (a - b) / n}'
}
ratio() { # ratio "a / b" "c / d": element-wise a/c, b/d
    if [ -z "$1" ] || [ -z "$2" ]; then echo n/a; return 0; fi
    awk -v x="$1" -v y="$2" 'BEGIN {
        n = split(x, a, " / "); m = split(y, b, " / "); out = ""
        for (i = 1; i <= n && i <= m; i++) {
            p = a[i] + 0; q = b[i] + 0
            r = (q != 0 && a[i] ~ /^[0-9.]/ && b[i] ~ /^[0-9.]/) ? sprintf("%.2f", p / q) : "n/a"
            out = out (i > 1 ? " / " : "") r
        }
        print out
    }'
}
table=()
row() { # row "#" "measurement" "this build" ["baseline"]
    local cells="| $1 | $2 | ${3:-n/a} |"
    if [ -n "$baseline" ]; then
        cells+=" ${4:-n/a} | $(ratio "${3:-}" "${4:-}") |"
    fi
    table+=("$cells")
}
both() { # both FUNCTION ARGS...: the function's cell for each side
    cell_new=$("$@" new || true)
    cell_base=
    if [ -n "$baseline" ]; then cell_base=$("$@" base || true); fi
}

c_ceiling() {
    local v us
    v=$(med "ceiling.$1") us=$(med "ceilus.$1")
    [ -n "$v" ] || return 0
    printf '%.0f logons/s' "$v"
    [ -n "$us" ] && printf '; the median logon %.1f µs (%.0f/s unpreempted)' "$us" \
        "$(awk -v u="$us" 'BEGIN {print 1e6 / u}')"
}
both c_ceiling
row 1 "SRP ceiling: ServerHandshake::new + verify, one thread, tight loop (median of $runs)" \
    "$cell_new" "$cell_base"

pct() { awk -v x="$(med "$1")" 'BEGIN {printf "%.0f%%", x * 100}'; }
c_level() { # c_level C SIDE
    local v ceil
    v=$(med "rate.$1.$2") ceil=$(med "ceiling.$2")
    [ -n "$v" ] || return 0
    printf '%.0f logons/s' "$v"
    [ -n "$ceil" ] && awk -v v="$v" -v c="$ceil" 'BEGIN {printf " (%.2f of row 1)", v / c}'
    printf '; server CPU %s µs per logon; CPU 0: server %s, others %s; client %s of CPU 1' \
        "$(awk -v x="$(med "scpu.$1.$2")" -v v="$v" 'BEGIN {printf "%.0f", x * 1e6 / v}')" \
        "$(pct "scpu.$1.$2")" "$(pct "ocpu.$1.$2")" "$(pct "ccpu.$1.$2")"
    [ "${R[fail.$1.$2]:-0}" = 0 ] || printf '; %s failed' "${R[fail.$1.$2]}"
}
for c in "${levels[@]}"; do
    both c_level "$c"
    row 2 "full logons/s (build 12340: challenge, proof, realm list), concurrency $c (median of $runs × ${secs} s)" \
        "$cell_new" "$cell_base"
done

c_paced() {
    local p50 p99 mx late
    p50=$(med "paced.p50_ms.$1") p99=$(med "paced.p99_ms.$1") mx=$(med "paced.max_ms.$1")
    late=$(med "paced.late.$1")
    [ -n "$p50" ] || return 0
    printf '%.2f / %.2f / %.2f ms at %s logons/s' "$p50" "$p99" "$mx" "${R[half.$1]}"
    [ "${late:-0}" = 0 ] || printf ' (%s starts late)' "$late"
}
both c_paced
row 3 "latency p50 / p99 / max at half the best rate of row 2, open loop (--rate), from the scheduled start (median of $runs)" \
    "$cell_new" "$cell_base"

c_rss0() {
    [ -n "${R[rss0.$1]:-}" ] || return 0
    printf '%s (anonymous %s)' "$(mib "${R[rss0.$1]}")" "$(mib "${R[anon0.$1]:-0}")"
}
both c_rss0
row 4 "server VmRSS (RssAnon), 0 connections (fresh server, idle)" "$cell_new" "$cell_base"
c_park() { # c_park KEY N SIDE
    local n0 nn
    n0=${R[$1"0".$3]:-} nn=${R[$1.$3]:-}
    [ -n "$nn" ] || return 0
    printf '%s (anonymous %s; %s KiB per connection)' "$(mib "$nn")" \
        "$(mib "${R[$1"a".$3]:-0}")" "$(per_conn "$nn" "$n0" "$2")"
    [ "${R[$1"f".$3]:-0}" = 0 ] || printf '; %s failed to park' "${R[$1"f".$3]}"
}
both c_park park1k 1000
row 4 "server VmRSS (RssAnon), 1,000 connections parked after the challenge" "$cell_new" "$cell_base"
both c_park park10k 10000
row 4 "server VmRSS (RssAnon), 10,000 connections parked after the challenge" "$cell_new" "$cell_base"
both c_park idle1k 1000
row 4 "server VmRSS (RssAnon), 1,000 connections logged in, idle after the realm list" "$cell_new" "$cell_base"

c_rl() {
    local v slow
    v=${R[rl.$1]:-} slow=${R[slowlogon.$1]:-}
    [ -n "${v% *}" ] || return 0
    printf '%.3f / %.3f ms (%s round trips' "${v% *}" "${v#* }" "${R[rln.$1]}"
    [ "${R[rlfail.$1]:-0}" = 0 ] || printf ', %s failed' "${R[rlfail.$1]}"
    awk -v s="${slow:-0}" 'BEGIN {
        if (s >= 100) printf "; logon p50 meanwhile %.0f ms)", s
        else printf "; logon p50 meanwhile %.0f ms: the delay was NOT in effect)", s
    }'
}
both c_rl
row 5 "realm-list round trip p50 / p99, store slowed to 50 ms per call (GATEHOUSE_TEST_STORE_DELAY_MS), 8 logged-in clients asking back to back while 4 logons wait on the store" \
    "$cell_new" "$cell_base"

c_alloc() {
    local v=${R[alloc.$1]:-}
    [ -n "$v" ] || return 0
    printf '%s (%s bytes)' "${v% *}" "${v#* }"
}
both c_alloc
row 6 "heap allocations per full logon on the loop thread (alloc_logon: 2,000 logons after 200, log level info)" \
    "$cell_new" "$cell_base"

c_growth_rss() {
    local out="" c
    for c in "${levels[@]}"; do
        out+="${out:+ / }$(awk -v k="$(med "rss.$c.$1")" 'BEGIN {printf "%.1f", k / 1024}')"
    done
    printf '%s MiB' "$out"
}
both c_growth_rss
row 7 "server peak RSS (VmHWM) in row 2's runs, concurrency 1 / 8 / 64 / 512" "$cell_new" "$cell_base"
c_growth_rate() {
    local out="" c
    for c in "${levels[@]}"; do out+="${out:+ / }$(printf '%.0f' "$(med "rate.$c.$1")")"; done
    printf '%s logons/s' "$out"
}
both c_growth_rate
row 7 "logons/s in row 2's runs, concurrency 1 / 8 / 64 / 512" "$cell_new" "$cell_base"
c_realms() { # c_realms N SIDE
    local v
    v=$(med "rrate.$1.$2")
    [ -n "$v" ] || return 0
    printf '%.0f logons/s / %s / %s of %s realms in the list; server CPU %s (%s µs per logon), client %s of CPU 1' \
        "$v" "$(mib "$(med "rrss.$1.$2")")" "${R[rgot.$1.$2]:-?}" "$1" "$(pct "rscpu.$1.$2")" \
        "$(awk -v x="$(med "rscpu.$1.$2")" -v v="$v" 'BEGIN {printf "%.0f", x * 1e6 / v}')" \
        "$(pct "rccpu.$1.$2")"
}
for n in "${realm_counts[@]}"; do
    both c_realms "$n"
    row 7 "$n realms seeded: logons/s (concurrency 64) / server peak RSS / realms in the reply the client got (median of $runs)" \
        "$cell_new" "$cell_base"
done

caption="gatehouse benchmarks, $(date -u +%Y-%m-%d), $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)), Linux $(uname -r); this build: $(git describe --always --dirty 2>/dev/null || echo '?')"
[ -n "$baseline" ] && caption+="; baseline: $baseline"
caption+="; database in $(stat -f -c %T "$dir") at $dir (synced 4 KiB writes/s: ${syncs_start:-?} at the start, ${syncs_end:-?} at the end); load average at the start $load_start, at the end $(cut -d' ' -f1-3 /proc/loadavg); measured in ${elapsed} s"
echo "$caption"
echo
if [ -n "$baseline" ]; then
    echo "| # | measurement | this build | baseline | this / baseline |"
    echo "|---|---|---|---|---|"
else
    echo "| # | measurement | this build |"
    echo "|---|---|---|"
fi
printf '%s\n' "${table[@]}"
