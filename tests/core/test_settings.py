"""Settings come from the environment, once each; child processes get the same values."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import PROJECT_ROOT, Settings


def test_defaults_are_loopback_and_local_files(tmp_path):
    s = Settings.from_env({"KESHER_VAR_DIR": str(tmp_path)})
    assert s.redis_host == "127.0.0.1"
    assert s.orders_db_url == f"sqlite:///{tmp_path / 'orders.db'}"
    assert s.mail_dir == tmp_path / "mail"


def test_an_empty_variable_means_the_default():
    assert Settings.from_env({"REDIS_PORT": "", "MAIL_FROM": "  "}) == Settings()


def test_environment_overrides_and_reaches_children():
    s = Settings.from_env({"REDIS_PORT": "7000", "REDIS_PASSWORD": "s3cret", "ORDERS_DB_URL": "postgresql://x/y",
                           "KESHER_MANUAL_ASSIGN": "1"})
    assert s.redis_port == 7000 and s.manual_assign is True
    env = s.child_env({})
    assert env["REDIS_PORT"] == "7000" and env["REDIS_PASSWORD"] == "s3cret"
    assert env["ORDERS_DB_URL"] == "postgresql://x/y"
    assert env["KESHER_MANUAL_ASSIGN"] == "1"
    # What endpoints.yml reads, and what Rasa needs to find Kesher's components.
    assert env["ACTION_SERVER_URL"] == f"http://127.0.0.1:{s.actions_port}/webhook"
    assert env["KESHER_MODEL_SERVER_URL"] == s.model_server_url
    assert str(PROJECT_ROOT) in env["PYTHONPATH"].split(":")
    assert env["RASA_TELEMETRY_ENABLED"] == "false"


def test_a_child_reads_back_exactly_the_settings_it_was_given(tmp_path):
    s = Settings(var_dir=tmp_path, smtp_starttls=True, default_language="he").with_ports(
        redis=7001, rasa=7002, actions=7003, handoff=7004, smtp=7005, models=7006)
    assert Settings.from_env(s.child_env({})) == s


def test_bad_values_are_named():
    with pytest.raises(ValidationError, match="redis_port"):
        Settings.from_env({"REDIS_PORT": "six"})
    with pytest.raises(ValidationError, match="default_language"):
        Settings.from_env({"KESHER_DEFAULT_LANGUAGE": "fr"})
    with pytest.raises(ValidationError, match="KESHER_COOKIE_SECURE"):
        Settings.from_env({"KESHER_COOKIE_SECURE": "maybe"})


def test_every_setting_has_its_own_variable_and_a_description():
    variables = Settings.variables()
    assert len(set(variables.values())) == len(variables)
    for name, field in Settings.__fields__.items():
        assert field.field_info.description, name


def test_only_the_settings_module_reads_the_environment():
    readers = []
    for package in ("core", "edge", "handoff", "actions", "bot", "writers", "wiring", "connectors", "console",
                    "kesher", "bench", "tests"):
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
                    readers.append(str(path.relative_to(PROJECT_ROOT)))
    # The test helpers read whether this run is CI (a missing Chromium fails there): not a Kesher setting.
    assert set(readers) == {str(Path("core") / "settings.py"), str(Path("tests") / "helpers" / "browser.py")}


def test_serving_parts_get_one_numeric_thread_each_unless_told_otherwise():
    settings = Settings(part_threads=1)
    served = settings.serving_env(base={})
    assert served["OPENBLAS_NUM_THREADS"] == served["OMP_NUM_THREADS"] == "1"
    assert served["TF_INTRA_OP_PARALLELISM_THREADS"] == served["TF_INTER_OP_PARALLELISM_THREADS"] == "1"
    # Training and the tools keep every core.
    assert "OPENBLAS_NUM_THREADS" not in settings.child_env(base={})
    # An operator's own variable wins; the setting moves the rest.
    tuned = Settings(part_threads=2).serving_env(base={"OMP_NUM_THREADS": "4"})
    assert tuned["OMP_NUM_THREADS"] == "4" and tuned["OPENBLAS_NUM_THREADS"] == "2"
