"""docs/python.md's example runs: python/examples/seed_example.py against the simulator."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_seed_example_runs(sim, tmp_path):
    script = REPO / "python" / "examples" / "seed_example.py"
    p = subprocess.run(
        [sys.executable, str(script), "--exchange-url", sim.url, "--store", f"sqlite:{tmp_path / 'ex.db'}"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "- rows: 1440 (1440 fetched, 0 from the store)" in out
    assert "  - 2024-01-01T00:00:00+00:00 → 2024-01-02T00:00:00+00:00" in out
    assert f"- live feed: websocket ws://{sim.url.removeprefix('http://')}/ws/btcusdt@kline_1m" in out
    assert "bars of history, last close" in out


def test_docs_include_the_example():
    """docs/python.md shows the example file as it is (no copy that could drift)."""
    doc = (REPO / "docs" / "python.md").read_text()
    code = (REPO / "python" / "examples" / "seed_example.py").read_text()
    start = doc.index("```python\n# python/examples/seed_example.py\n") + len("```python\n# python/examples/seed_example.py\n")
    shown = doc[start:doc.index("```", start)]
    body = code[code.index("from __future__"):]
    assert shown.strip() == body.strip(), "docs/python.md's copy of seed_example.py differs from the file"
