#!/usr/bin/env bash
# Fuzzing: runs the cargo-fuzz targets in fuzz/ (packets, link_frames), each for SECONDS,
# one after the other, from the committed seeds (fuzz/seeds/<target>) plus the local corpus
# (fuzz/corpus/<target>, not committed). Installs cargo-fuzz if it is missing. Crashing inputs
# land in fuzz/artifacts/<target>/; extra arguments go to libFuzzer.
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS] [-- LIBFUZZER_ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-all}
seconds=${2:-600}
shift $(( $# > 2 ? 2 : $# ))
[[ ${1:-} == -- ]] && shift

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
# cargo-fuzz passes -Z flags (the sanitizer); stable rustc accepts them only with this set.
export RUSTC_BOOTSTRAP=1

if [[ $target == all ]]; then
    targets=$(cargo fuzz list)
else
    targets=$target
fi
for t in $targets; do
    mkdir -p "fuzz/corpus/$t"
    echo "== $t for ${seconds}s"
    cargo fuzz run "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 "$@"
done
