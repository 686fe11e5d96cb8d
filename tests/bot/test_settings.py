"""Settings come from the environment; child processes get the same values."""

from __future__ import annotations

import pytest

from bot.settings import Settings


def test_defaults_are_loopback_and_local_files(tmp_path):
    s = Settings.from_env({"KESHER_VAR_DIR": str(tmp_path)})
    assert s.redis_host == "127.0.0.1"
    assert s.orders_db_url == f"sqlite:///{tmp_path / 'orders.db'}"


def test_environment_overrides_and_reaches_children():
    s = Settings.from_env({"REDIS_PORT": "7000", "REDIS_PASSWORD": "s3cret", "ORDERS_DB_URL": "postgresql://x/y"})
    env = s.process_env()
    assert env["REDIS_PORT"] == "7000" and env["REDIS_PASSWORD"] == "s3cret"
    assert env["ORDERS_DB_URL"] == "postgresql://x/y"


def test_bad_values_are_named():
    with pytest.raises(ValueError, match="REDIS_PORT"):
        Settings.from_env({"REDIS_PORT": "six"})
    with pytest.raises(ValueError, match="KESHER_DEFAULT_LANGUAGE"):
        Settings.from_env({"KESHER_DEFAULT_LANGUAGE": "fr"})
