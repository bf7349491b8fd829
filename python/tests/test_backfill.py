"""backfill: results, resumability, and the progress bar in a terminal and elsewhere."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from conftest import END, NODE, START

NODES = [NODE, "ohlcv:binance:ETH/USDT:1m"]

SCRIPT = """
import seamless_market as sm, sys
p = sm.Provider(store=sys.argv[1], exchange_urls={"binance": sys.argv[2]})
r = p.backfill(%r, %r, %r, progress=True)
print("rows", sum(x.candles for x in r))
""" % (NODES, START, END)


def test_backfill_then_resume(provider_for, sim, store):
    p = provider_for(store)
    first = p.backfill(NODES, START, END, progress=False)
    assert [r.candles for r in first] == [2880, 2880]
    assert all(r.missing == [] for r in first)
    before = sim.requests()
    again = p.backfill(NODES, START, END, progress=False)
    assert [r.candles for r in again] == [0, 0]
    assert sim.requests() == before  # resumable: nothing left to fetch


def run_script(sim, store, stderr):
    # Outside the source tree, so the installed package is imported.
    cwd = store.removeprefix("sqlite:").rsplit("/", 1)[0]
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, store, sim.url], stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=cwd
    )


def test_progress_in_a_pipe_is_plain_lines(sim, store):
    proc = run_script(sim, store, subprocess.PIPE)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.strip() == "rows 5760"
    assert "\r" not in err and "\x1b" not in err
    lines = err.strip().splitlines()
    assert lines == [
        f"{n}: [2024-01-01T00:00:00Z, 2024-01-03T00:00:00Z) 2880 candles fetched in 3 requests (3 pages, 3 chunks)"
        for n in NODES
    ]


def test_progress_in_a_terminal_is_a_bar(sim, store):
    master, slave = pty.openpty()
    proc = run_script(sim, store, slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the terminal closed: the process ended
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=120) == 0
    err = b"".join(chunks).decode()
    assert "\r" in err and "candles" in err and "ETA" in err
    assert "5760/5760 candles" in err  # the bar ends full
    assert err.rstrip().endswith("2880 candles fetched in 3 requests (3 pages, 3 chunks)")


INTERRUPT = """
import seamless_market as sm, sys
p = sm.Provider(store=sys.argv[1], exchange_urls={"binance": sys.argv[2]})
started = []
def progress(snapshot):
    if not started:
        started.append(1)
        print("started", flush=True)
try:
    p.backfill(%r, "2024-01-01", "2024-01-31", progress=progress)
    print("finished")
except KeyboardInterrupt:
    cov = p.coverage(%r, "2024-01-01", "2024-01-31")
    print("interrupted, missing ranges:", len(cov.missing))
""" % (NODE, NODE)


def test_ctrl_c_interrupts_a_blocking_call(store):
    """SIGINT during a blocking backfill raises KeyboardInterrupt in Python and aborts the job."""
    import signal

    from conftest import Simulator

    slow = Simulator("--latency-ms", "300")
    try:
        cwd = store.removeprefix("sqlite:").rsplit("/", 1)[0]
        proc = subprocess.Popen([sys.executable, "-c", INTERRUPT, store, slow.url],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
        assert proc.stdout.readline().strip() == "started"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        slow.stop()
    assert proc.returncode == 0, err
    line = out.strip()
    assert line.startswith("interrupted, missing ranges:"), out
    assert int(line.rsplit(":", 1)[1]) > 0
