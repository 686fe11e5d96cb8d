"""The whole stack, started once per test session on free loopback ports."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from actions.backends import Backends
from actions.kb.search import InMemoryKnowledgeBase
from actions.orders.repository import SqlOrderRepository
from core.processes import free_port
from core.settings import PROJECT_ROOT, Settings
from handoff.policy import load_policy
from kesher.cli import seed, train_model
from kesher.supervisor import Supervisor
from tests.helpers import fake_telegram, fake_twilio
from tests.helpers.callback import CallbackInbox
from tests.helpers.fake_telegram import FakeTelegram
from tests.helpers.fake_twilio import FakeTwilio
from tests.helpers.texts import catalog

TELEGRAM_SECRET = "e2e-telegram-secret"


def _content_copy(folder: Path) -> Path:
    """A copy of the bot's content, for the writers' pages to add examples to (the repo stays as it is)."""
    content = folder / "content"
    for name in ("domain", "data"):
        shutil.copytree(PROJECT_ROOT / name, content / name)
    shutil.copy(PROJECT_ROOT / "config.yml", content / "config.yml")
    return content


def _open_all_day(folder: Path) -> Path:
    """The project's handoff policy with the desk open around the clock, so live tests
    do not depend on the hour CI runs at (business hours have their own unit tests)."""
    policy = yaml.safe_load((PROJECT_ROOT / "handoff" / "policy.yml").read_text(encoding="utf-8"))
    policy["business_hours"]["days"] = {day: ["00:00", "23:59:59"] for day in range(7)}
    path = folder / "policy.yml"
    path.write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def inbox() -> Iterator[CallbackInbox]:
    """Receives what Kesher sends to customers of the callback channel."""
    box = CallbackInbox()
    yield box
    box.close()


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory, inbox: CallbackInbox, twilio: FakeTwilio,
                   telegram: FakeTelegram) -> Settings:
    var_dir = tmp_path_factory.mktemp("kesher-var")
    settings = Settings(var_dir=var_dir).replace(callback_url=inbox.url, callback_secret="test-callback-secret",
        handoff_policy=_open_all_day(var_dir),
        # Every test customer writes from loopback, many at once: the abuse limits have their own tests.
        limit_sessions_per_source="0/60", limit_messages_per_source="0/60", limit_messages_per_sender="0/60",
        content_dir=_content_copy(var_dir), model_pull_seconds=2,
        twilio_account_sid=fake_twilio.DEFAULT_ACCOUNT_SID, twilio_auth_token=fake_twilio.DEFAULT_AUTH_TOKEN,
        twilio_whatsapp_from=fake_twilio.WHATSAPP_FROM, twilio_api_base=twilio.base_url,
        telegram_token=fake_telegram.DEFAULT_TOKEN, telegram_secret_token=TELEGRAM_SECRET,
        telegram_api_base=telegram.base_url,
        notice_scan_minutes=0,  # the scan would mail every seeded late order (tests/connectors/test_notices.py)
    )
    return settings.with_ports(redis=free_port(), rasa=free_port(), actions=free_port(),
                               handoff=free_port(), smtp=free_port(), models=free_port())


@pytest.fixture(scope="session")
def stack(stack_settings: Settings) -> Iterator[Supervisor]:
    """redis-server, `rasa run actions` and `rasa run` with the trained model."""
    seed(stack_settings, today=date.today())
    model = train_model(stack_settings)  # a no-op when the model is current
    supervisor = Supervisor(stack_settings, model=model)
    supervisor.start()
    yield supervisor
    supervisor.stop()


@pytest.fixture(scope="session")
def stack_orders(stack_settings: Settings) -> Backends:
    """Direct access to the stack's orders database, to pick orders and check changes."""
    return Backends(
        orders=SqlOrderRepository.from_url(stack_settings.orders_db_url),
        kb=InMemoryKnowledgeBase(stack_settings.kb_dir),
        texts=catalog(),
        policy=load_policy(stack_settings.handoff_policy),
    )
