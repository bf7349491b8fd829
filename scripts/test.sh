#!/usr/bin/env bash
# The whole test suite: starts QuestDB and Redis on 127.0.0.1 (scripts/services.sh), runs
# every crate's tests with their addresses in the environment, stops the services.
#
# SEAMLESS_FRESH_CACHE=1 (set by .ci/run) runs the suite with a new, empty compiled-component
# cache (SEAMLESS_TEST_CACHE_DIR, removed after), as on a fresh machine; otherwise the tests
# share target/test-component-cache (or SEAMLESS_TEST_CACHE_DIR when set).
set -euo pipefail
cd "$(dirname "$0")/.."
fresh=""
cleanup() {
    scripts/services.sh down all
    if [ -n "$fresh" ]; then rm -rf "$fresh"; fi
}
trap cleanup EXIT
if [ "${SEAMLESS_FRESH_CACHE:-}" = 1 ]; then
    fresh="$(mktemp -d "${TMPDIR:-/tmp}/seamless-fresh-cache.XXXXXX")"
    export SEAMLESS_TEST_CACHE_DIR="$fresh"
    echo "empty component cache: $fresh"
fi
scripts/services.sh up all
set -a
eval "$(scripts/services.sh env)"
set +a
cargo test --workspace --no-fail-fast "$@"
# The Python package: wheel (maturin) into target/py, then pytest (python/tests).
python/test.sh
