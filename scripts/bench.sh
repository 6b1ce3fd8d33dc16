#!/usr/bin/env bash
# The server's SRP6 work per logon (criterion; medians in target/criterion/).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench srp6 "$@"
