"""The wheel carries its adapters: installed into a fresh virtual environment and run from
a temporary folder, with a fresh home and cache folder and no SEAMLESS_* variable (so no
adapter folder of the repository's target/), it backfills from the simulator."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import NODE, REPO, TARGET

SCRIPT = """
import json, os, sys
import seamless_market as sm
p = sm.Provider(store="sqlite:" + os.path.join(os.getcwd(), "c.db"), exchange_urls={"binance": sys.argv[1]})
f = p.fetch(%r, "2024-01-01", "2024-01-01T01:00:00Z", strategy="auto-backfill")
print(json.dumps({"file": sm.__file__, "rows": len(f), "adapters": sm.BUILTIN_ADAPTERS}))
""" % NODE


def wheel() -> str:
    w = os.environ.get("SEAMLESS_WHEEL")
    if w:
        return w
    found = sorted(glob.glob(str(TARGET / "wheels" / "seamless_market-*.whl")), key=os.path.getmtime)
    if not found:
        pytest.fail("no wheel: build one with `maturin build` (python/test.sh does) or set SEAMLESS_WHEEL")
    return found[-1]


def test_wheel_adapters_load_without_the_repository(tmp_path, sim):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    pip = subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel()],
        capture_output=True, text=True,
    )
    assert pip.returncode == 0, pip.stderr
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
    }
    p = subprocess.run([str(py), "-c", SCRIPT, sim.url], cwd=work, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["rows"] == 60
    assert Path(out["file"]).is_relative_to(venv) and not Path(out["file"]).is_relative_to(REPO)
    assert "binance" in out["adapters"] and len(out["adapters"]) >= 10
    # The embedded components were written under the fresh cache folder and loaded from there.
    written = list((home / "cache" / "seamless" / "builtin-adapters").glob("*/binance_adapter.wasm"))
    assert len(written) == 1
