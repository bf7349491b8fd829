#!/usr/bin/env bash
# The whole test suite: starts QuestDB and Redis on 127.0.0.1 (scripts/services.sh), runs
# every crate's tests with their addresses in the environment, stops the services.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh up all
trap 'scripts/services.sh down all' EXIT
set -a
eval "$(scripts/services.sh env)"
set +a
cargo test --workspace --no-fail-fast "$@"
