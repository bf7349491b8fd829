#!/usr/bin/env bash
# The Python package's tests (run by scripts/test.sh): build the wheel with maturin (dev
# profile: the workspace's debug artifacts are reused), install it into the virtual
# environment target/py, and run pytest (python/tests) against the exchange simulator and
# the `seamless` CLI of target/debug, then the strategy SDK's native tests. Extra arguments
# go to the package's pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${SEAMLESS_PY_VENV:-target/py}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r python/requirements-test.txt
cargo build -p seamless -p exchange-sim
rm -f target/wheels/seamless_market-*.whl
started=$SECONDS
VIRTUAL_ENV="$(cd "$venv" && pwd)" "$venv/bin/maturin" build --quiet --profile dev \
    --manifest-path python/Cargo.toml -i "$venv/bin/python" -o target/wheels
echo "python: wheel built in $((SECONDS - started)) s"
wheel="$(ls target/wheels/seamless_market-*.whl)"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"
SEAMLESS_WHEEL="$wheel" "$venv/bin/python" -m pytest -q python/tests "$@"
# The Python strategy SDK and its examples, natively (the built components are tested
# against their Rust twins in tests/all/python_strategy.rs).
"$venv/bin/python" -m pytest -q -p no:cacheprovider guest-strategies/python/tests
