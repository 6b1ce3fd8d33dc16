#!/usr/bin/env bash
# Keeps Cargo.toml's `rust-version` true (run by .ci/run).
#
# 1. Reads the lock file as it is now, through `cargo metadata --locked`, and fails, naming
#    them, if any locked package that is built on this platform (reachable from gatehouse in the
#    resolved graph: normal, build and dev dependencies, with the features actually enabled)
#    declares a `rust-version` above ours.
# 2. When a toolchain of the declared version is installed (`rustup toolchain list`), also runs
#    `cargo +VERSION check --locked --all-targets` with it. Nothing is fetched.
#
#   scripts/check-msrv.sh
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in cargo jq rustc; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "check-msrv: $tool is required" >&2
        exit 1
    fi
done

host=$(rustc -vV | sed -n 's/^host: //p')
metadata=$(cargo metadata --format-version 1 --locked --filter-platform "$host")

ours=$(jq -r '.resolve.root as $r | .packages[] | select(.id == $r) | .rust_version // empty' \
    <<<"$metadata")
if [ -z "$ours" ]; then
    echo "check-msrv: Cargo.toml declares no rust-version" >&2
    exit 1
fi

# Walk the resolved graph from the root; versions compare as numbers ("1.88" == "1.88.0").
too_new=$(jq -r --arg ours "$ours" '
    def ver: split(".") | map(tonumber? // 0) | (. + [0, 0, 0])[0:3];
    . as $m
    | ($m.resolve.nodes | map({key: .id, value: [.deps[].pkg]}) | from_entries) as $edges
    | {seen: [$m.resolve.root], todo: [$m.resolve.root]}
    | until(.todo | length == 0;
        ([.todo[] | $edges[.][]] | unique) as $next
        | ($next - .seen) as $new
        | {seen: (.seen + $new), todo: $new})
    | (.seen | map({key: ., value: true}) | from_entries) as $built
    | $m.packages[]
    | select($built[.id] and .rust_version != null)
    | select((.rust_version | ver) > ($ours | ver))
    | "  \(.name) \(.version) declares rust-version \(.rust_version)"
    ' <<<"$metadata")

if [ -n "$too_new" ]; then
    echo "check-msrv: Cargo.toml says rust-version = \"$ours\", but these locked dependencies need more:" >&2
    echo "$too_new" >&2
    echo "check-msrv: raise rust-version (and the README's Requirements) or lock older versions" >&2
    exit 1
fi
echo "check-msrv: every locked dependency builds with Rust $ours"

# The declared toolchain itself, when it is installed: "1.89" matches 1.89 and 1.89.0.
if command -v rustup >/dev/null 2>&1; then
    short=${ours%.0}
    toolchain=$(rustup toolchain list | awk '{print $1}' \
        | grep -E "^(${short//./\\.}|${short//./\\.}\\.0)(-|$)" | head -n1 || true)
    if [ -n "$toolchain" ]; then
        echo "check-msrv: cargo +$toolchain check --locked --all-targets"
        cargo "+$toolchain" check --locked --all-targets
    else
        echo "check-msrv: no $ours toolchain installed; only the lock file was checked"
    fi
fi
