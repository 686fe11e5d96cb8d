"""Every command that runs a server refuses unsafe production settings at once, naming each problem."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import jwt
import pytest

from core.rasa_api import JWT_METHOD
from core.settings import PROJECT_ROOT, Settings
from kesher.cli import main, shell_command, start_check
from kesher.rasa_server import parse_arguments, rasa_arguments
from kesher.supervisor import StartupError, Supervisor
from tests.helpers import fake_telegram
from tests.helpers.fake_telegram import FakeTelegram


def _kesher(args: List[str], env: Dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kesher", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def _production_env(tmp_path: Path, **settings: str) -> Dict[str, str]:
    env = Settings(var_dir=tmp_path / "var", **settings).child_env()  # type: ignore[arg-type]
    env["KESHER_MODE"] = "production"
    return env


def test_up_in_production_with_a_demo_secret_exits_at_once_naming_it(tmp_path):
    env = _production_env(tmp_path)
    started = time.monotonic()
    done = _kesher(["up"], env)
    assert done.returncode == 2
    assert "Kesher refuses to start in production mode" in done.stderr
    for variable in ("RASA_API_TOKEN", "KESHER_WEB_SECRET", "TWILIO_AUTH_TOKEN", "TELEGRAM_TOKEN",
                     "TELEGRAM_SECRET_TOKEN", "KESHER_ACTIONS_TOKEN", "MAIL_FROM", "KESHER_EVENTS_SECRET",
                     "KESHER_NOTICES_SECRET"):
        assert f"  - {variable} still has its demo value" in done.stderr
    assert "agent 'dana'" in done.stderr and "demo password" in done.stderr
    # Nothing was seeded, trained or started.
    assert not (tmp_path / "var").exists()
    assert "Seeded" not in done.stdout and "Starting" not in done.stdout
    assert time.monotonic() - started < 60


@pytest.mark.parametrize("part", ["actions", "rasa", "handoff"])
def test_a_served_part_with_a_real_twilio_token_and_demo_secrets_refuses(tmp_path, part):
    # A real Twilio token implies production even without KESHER_MODE.
    env = Settings(var_dir=tmp_path / "var", twilio_auth_token="a-real-twilio-auth-token").child_env()
    done = _kesher(["serve", part], env)
    assert done.returncode == 2
    assert "KESHER_ACTIONS_TOKEN still has its demo value" in done.stderr
    assert "TWILIO_* credentials are set but KESHER_PUBLIC_URL is not" in done.stderr


def test_the_supervisor_refuses_before_starting_anything(tmp_path):
    settings = Settings(var_dir=tmp_path, mode="production")
    with pytest.raises(StartupError, match="RASA_API_TOKEN still has its demo value"):
        Supervisor(settings).start()
    assert not (tmp_path / "logs").exists()


def test_the_rasa_command_line_holds_no_secret_and_binds_loopback():
    settings = Settings(rasa_api_token="never-on-a-command-line-1234")
    argv = rasa_arguments(settings)
    assert "never-on-a-command-line-1234" not in " ".join(argv)
    assert "--auth-token" not in argv
    assert argv[argv.index("--interface") + 1] == "127.0.0.1"
    args = parse_arguments(settings)
    assert args.jwt_secret == "never-on-a-command-line-1234" and args.jwt_method == "HS256"
    assert args.auth_token is None  # a `?token=` in a URL opens nothing
    assert Supervisor(settings, parts=("rasa",)).part("rasa").command == [sys.executable, "-m", "kesher.rasa_server"]


def test_telegram_webhook_never_registers_the_demo_secret(telegram: FakeTelegram):
    telegram.clear()  # the fake is shared by the session: forget a webhook another test registered
    env = Settings(telegram_token=fake_telegram.DEFAULT_TOKEN, telegram_api_base=telegram.base_url).child_env()
    done = _kesher(["telegram-webhook", "--url", "https://bot.shop.example/webhooks/telegram/webhook"], env)
    assert done.returncode == 1
    assert "TELEGRAM_SECRET_TOKEN still has its demo value" in done.stderr
    assert telegram.webhook is None


def test_the_cli_prints_a_token_for_rasas_api(monkeypatch, capsys):
    secret = "a-test-secret-that-is-long-enough-0123456789"
    monkeypatch.setenv("RASA_API_TOKEN", secret)
    assert main(["rasa-token"]) == 0
    token = capsys.readouterr().out.strip()
    assert secret not in token
    assert jwt.decode(token, secret, algorithms=[JWT_METHOD])["user"]["role"] == "admin"


def test_make_shell_listens_on_loopback_only():
    command = shell_command(5999)
    assert command[command.index("--interface") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "5999"


def test_demo_mode_prints_one_marked_warning_and_production_refuses_with_each_problem(capsys):
    assert start_check(Settings()) is True
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("*** DEMO MODE") and "KESHER_ACTIONS_TOKEN" in err
    assert start_check(Settings(mode="production")) is False
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("Kesher refuses to start in production mode")
    assert "  - RASA_API_TOKEN still has its demo value: set it to a long random secret of your own" in "\n".join(lines)
