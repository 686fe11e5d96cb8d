"""Fixtures for the mail tests: a movable clock, settings that point at the SMTP sink, agents."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings
from handoff.agents import AgentDirectory
from handoff.models import Agent
from tests.helpers.smtp import FakeClock, SmtpSink


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture()
def mail_settings(smtp_sink: SmtpSink, tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=smtp_sink.port)


@pytest.fixture()
def agents() -> AgentDirectory:
    return AgentDirectory(agents={
        "dana": Agent("dana", "Dana Levi", email="dana@kesher.example", languages=("he", "en")),
        "omer": Agent("omer", "Omer Katz", email="", languages=("he",)),
    })
