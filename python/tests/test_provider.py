"""Provider settings resolve like the CLI's: config file, then SEAMLESS_* variables, then the
keywords; cluster mode with a real Redis."""

from __future__ import annotations

import os

import pytest

import seamless_market as sm
from conftest import NODE, START


def test_config_file_then_keywords(sim, tmp_path, monkeypatch):
    db = tmp_path / "from-file.db"
    cfg = tmp_path / "seamless.toml"
    cfg.write_text(f'store = "sqlite:{db}"\n\n[exchange_urls]\nbinance = "{sim.url}"\n')
    p = sm.Provider(config_file=cfg)
    assert p.store_url == f"sqlite:{db}"
    assert len(p.fetch(NODE, START, "2024-01-01T01:00:00Z", strategy="auto-backfill")) == 60

    # A SEAMLESS_* variable beats the file; a keyword beats both.
    monkeypatch.setenv("SEAMLESS_STORE", f"sqlite:{tmp_path / 'from-env.db'}")
    assert sm.Provider(config_file=cfg).store_url == f"sqlite:{tmp_path / 'from-env.db'}"
    assert sm.Provider(store=tmp_path / "kw.db", config_file=cfg).store_url == f"sqlite:{tmp_path / 'kw.db'}"

    with pytest.raises(sm.BadInputError, match="cannot read config file"):
        sm.Provider(config_file=tmp_path / "absent.toml")


@pytest.mark.skipif("SEAMLESS_TEST_REDIS" not in os.environ, reason="needs a Redis (scripts/services.sh up redis)")
def test_cluster_mode_with_redis(provider_for, store):
    p = provider_for(store, redis=os.environ["SEAMLESS_TEST_REDIS"])
    frame = p.fetch(NODE, START, "2024-01-01T06:00:00Z", strategy="auto-backfill")
    assert len(frame) == 360 and not frame.metadata.partial
