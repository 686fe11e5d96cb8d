"""Production mode: refused while a demo secret is in use, implied by real channel settings, warned in demo."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import pytest
import yaml
from pydantic import Field

from core.production import (
    DEMO_AGENT_PASSWORD_HASH,
    ProductionRefused,
    check,
    demo_warning,
    implied_by,
    is_production,
    problems,
)
from core.settings import PROJECT_ROOT, Settings
from wiring.container import Container

# Every DEMO DEFAULT the issue names, and one of the demo agents.
DEMO_VARIABLES = ("RASA_API_TOKEN", "KESHER_WEB_SECRET", "TWILIO_AUTH_TOKEN", "TELEGRAM_TOKEN",
                  "TELEGRAM_SECRET_TOKEN", "KESHER_ACTIONS_TOKEN", "MAIL_FROM", "KESHER_REST_TOKEN",
                  "KESHER_EVENTS_SECRET", "KESHER_NOTICES_SECRET")


def _agents(folder: Path, **hashes: str) -> Path:
    path = folder / "agents.yml"
    agents = {agent_id: {"name": agent_id, "password_hash": h, "languages": ["en"]} for agent_id, h in hashes.items()}
    path.write_text(yaml.safe_dump({"teams": {}, "agents": agents}), encoding="utf-8")
    return path


def _all_set(tmp_path: Path, **changes: Any) -> Settings:
    """Production settings with every secret of its own and one real agent."""
    real: Dict[str, Any] = {
        "mode": "production",
        "public_url": "https://chat.shop.example",
        "rasa_api_token": "r" * 32, "actions_token": "a" * 32, "web_secret": "w" * 32,
        "twilio_account_sid": "AC" + "1" * 32, "twilio_auth_token": "t" * 32,
        "twilio_whatsapp_from": "whatsapp:+972500000000",
        "telegram_token": "42:real", "telegram_secret_token": "s" * 32,
        "mail_from": "Shop <support@shop.example>", "rest_token": "", "events_secret": "e" * 32,
        "notices_secret": "n" * 32,
        "agents_file": _agents(tmp_path, noa="$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"),
    }
    return Settings(**{**real, **changes})


def test_the_project_default_demo_hash_is_the_one_refused():
    agents = yaml.safe_load((PROJECT_ROOT / "handoff" / "agents.yml").read_text(encoding="utf-8"))["agents"]
    assert {a["password_hash"] for a in agents.values()} == {DEMO_AGENT_PASSWORD_HASH}


def test_production_with_every_secret_set_starts(tmp_path):
    settings = _all_set(tmp_path)
    assert is_production(settings)
    assert problems(settings) == []
    check(settings)  # no exception
    assert demo_warning(settings) == ""


@pytest.mark.parametrize("variable", DEMO_VARIABLES)
def test_each_demo_value_left_in_production_is_named(tmp_path, variable):
    name = next(n for n, v in Settings.variables().items() if v == variable)
    settings = _all_set(tmp_path, **{name: Settings.__fields__[name].default})
    found = problems(settings)
    assert len(found) == 1 and found[0].startswith(f"{variable} still has its demo value: set it to "), found
    with pytest.raises(ProductionRefused) as refused:
        check(settings)
    assert f"  - {variable} still has its demo value" in str(refused.value)


def test_an_agent_with_the_demo_password_is_named(tmp_path):
    settings = _all_set(tmp_path)
    settings = settings.replace(agents_file=_agents(tmp_path, noa="$argon2id$own", dana=DEMO_AGENT_PASSWORD_HASH))
    assert problems(settings) == [
        f"agent 'dana' in {settings.agents_file} still has the demo password (kesher-demo): set a new one with "
        "`python -m kesher add-agent dana`, or remove the agent"
    ]


def test_explicit_production_with_the_defaults_names_every_demo_value_and_agent():
    found = "\n".join(problems(Settings(mode="production")))
    for variable in DEMO_VARIABLES + ("TWILIO_ACCOUNT_SID", "TWILIO_WHATSAPP_FROM"):
        assert f"{variable} still has its demo value" in found
    for agent_id in ("dana", "omer", "sarah"):
        assert f"agent '{agent_id}'" in found


def test_a_public_url_implies_production():
    settings = Settings(public_url="https://chat.shop.example")
    assert settings.mode == "demo" and is_production(settings)
    assert implied_by(settings) == ["KESHER_PUBLIC_URL is set"]
    assert "RASA_API_TOKEN still has its demo value" in "\n".join(problems(settings))


@pytest.mark.parametrize("field, value", [
    ("twilio_auth_token", "a-real-twilio-token"),
    ("twilio_account_sid", "AC" + "9" * 32),
    ("telegram_token", "777:real"),
    ("telegram_secret_token", "a-real-secret"),
])
def test_a_real_channel_credential_implies_production(field, value):
    settings = Settings(**{field: value})
    assert is_production(settings)
    variable = Settings.variables()[field]
    assert implied_by(settings) == [f"{variable} is a real credential"]
    with pytest.raises(ProductionRefused, match="KESHER_WEB_SECRET still has its demo value"):
        check(settings)


def test_values_aimed_only_at_this_machine_do_not_imply_production():
    # The tests' and benchmarks' stand-in providers, and a "public" URL on loopback.
    stand_ins = Settings(twilio_auth_token="fake", telegram_token="1:fake", twilio_api_base="http://127.0.0.1:9",
                         telegram_api_base="http://localhost:9", public_url="https://127.0.0.1:8443")
    assert not is_production(stand_ins) and problems(stand_ins) == []


def test_twilio_without_a_public_url_is_a_start_up_error(tmp_path):
    settings = _all_set(tmp_path, public_url="")
    assert problems(settings) == [
        "TWILIO_* credentials are set but KESHER_PUBLIC_URL is not: Twilio signs every webhook against the public "
        "URL it calls, so behind a TLS proxy every genuine WhatsApp message would get 403; set KESHER_PUBLIC_URL "
        "to the public HTTPS base URL, e.g. https://chat.shop.co.il"
    ]


def test_a_demo_secret_added_later_is_covered_by_its_mark(tmp_path):
    class WithMore(Settings):
        new_secret: str = Field(default="demo-new", env="KESHER_NEW_SECRET", description="x", demo="your own")

    settings = WithMore(**_all_set(tmp_path).dict())
    assert problems(settings) == ["KESHER_NEW_SECRET still has its demo value: set it to your own"]
    assert problems(settings.replace(new_secret="mine")) == []


def test_demo_mode_says_so_in_one_marked_line():
    line = demo_warning(Settings())
    assert "\n" not in line and line.startswith("*** DEMO MODE")
    for variable in DEMO_VARIABLES:
        assert variable in line
    assert "the demo agents' password" in line


def test_the_mode_is_checked():
    assert Settings.from_env({"KESHER_MODE": " Production "}).mode == "production"
    with pytest.raises(ValueError, match="mode"):
        Settings.from_env({"KESHER_MODE": "live"})


def test_every_process_building_a_container_is_refused_too():
    """`rasa run`'s channels, the action server and the console all start from the composition root."""
    with pytest.raises(ProductionRefused, match="KESHER_WEB_SECRET still has its demo value"):
        Container(Settings(mode="production"))
    Container(Settings())  # demo mode builds as before
