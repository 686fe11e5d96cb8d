"""The real handoff service as a subprocess, for the console's and the channels' tests.

The service runs ``python -m kesher serve handoff`` against a redis-server of its
own (``console_redis_server``: its mail worker, event mover and late-order scan
run all session and would take other tests' jobs), a temp copy of the agents file,
a seeded SQLite orders database and a Rasa port where nothing listens (the
transcript degrades). Queue assignment is manual so the tests take conversations
themselves. Its settings reach it the way the supervisor hands them on.

The fixtures are registered once, in tests/conftest.py: a fixture imported into two
conftest files is two fixtures, and two such services on one Redis would take each
other's events and mail.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import AsyncIterator, Dict, Iterator

import httpx
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from actions.orders.repository import make_engine
from actions.orders.seed import seed_database
from core.processes import free_port
from core.redis_keys import RedisKeys
from core.settings import Settings
from handoff.agents import hash_password
from handoff.state import HandoffStore
from kesher.add_agent import upsert_agent
from tests.helpers.redis_server import RedisServer
from tests.helpers.waiting import until_sync

__all__ = ["PASSWORD", "WRITER", "Service", "console_service", "http", "live_store", "running_handoff", "seed_orders",
           "wait_ready"]

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "kesher-demo"
WRITER = "wendy"


@dataclass
class Service:
    base_url: str
    port: int
    redis_port: int
    agents_file: Path
    var_dir: Path
    mail_dir: Path
    log_file: Path
    orders: Dict[str, Dict[str, str]]  # language → a seeded order of a customer of that language
    content_dir: Path  # a copy of domain/, data/ and config.yml the writers' pages may change

    @property
    def origin(self) -> str:
        return self.base_url

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")[-chars:]


def seed_orders(var_dir: Path) -> Dict[str, Dict[str, str]]:
    db = var_dir / "orders.db"
    seed_database(make_engine(f"sqlite:///{db}"), date.today(), count=40)
    out: Dict[str, Dict[str, str]] = {}
    with sqlite3.connect(db) as conn:
        for language in ("he", "en"):
            row = conn.execute(
                "SELECT order_id, customer_name, email, phone, status FROM orders WHERE language = ? "
                "ORDER BY order_id LIMIT 1",
                (language,),
            ).fetchone()
            if row:
                out[language] = dict(zip(("order_id", "customer_name", "email", "phone", "status"), row, strict=True))
    return out


def wait_ready(url: str, process: subprocess.Popen, log_file: Path, timeout: float = 40.0) -> None:
    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"handoff service exited {process.returncode}:\n{log_file.read_text()[-3000:]}")
        try:
            return httpx.get(f"{url}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        until_sync(healthy, what="the handoff service's /health", timeout=timeout, every=0.1)
    except AssertionError:
        process.kill()
        raise RuntimeError(f"handoff service did not start:\n{log_file.read_text()[-3000:]}") from None


@contextlib.contextmanager
def running_handoff(settings: Settings, base: Path) -> Iterator[str]:
    """Runs ``python -m kesher serve handoff`` with ``settings`` until the block ends.

    Args:
        settings: The service's settings, handed on as the supervisor does (``child_env``).
        base: The test's directory; the service's output goes to ``base/service.log``.

    Yields:
        The service's base URL, once its /health answers.
    """
    log_file = base / "service.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "kesher", "serve", "handoff"],
                                   cwd=ROOT, env=settings.child_env(), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{settings.handoff_port}"
    try:
        wait_ready(url, process, log_file)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="session")
def console_service(console_redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    base = tmp_path_factory.mktemp("console")
    agents_file = base / "agents.yml"
    shutil.copy(ROOT / "handoff" / "agents.yml", agents_file)
    # a writer of our own, whatever the demo file holds (also exercises the add-agent code)
    upsert_agent(agents_file, WRITER, hash_password(PASSWORD), name="Wendy Writer", languages=["en"], role="writer")
    var_dir = base / "var"
    mail_dir = var_dir / "mail"
    mail_dir.mkdir(parents=True)
    orders = seed_orders(var_dir)
    content_dir = base / "content"
    for name in ("domain", "data"):
        shutil.copytree(ROOT / name, content_dir / name)
    shutil.copy(ROOT / "config.yml", content_dir / "config.yml")
    port = free_port()
    settings = Settings(
        var_dir=var_dir, agents_file=agents_file, mail_dir=mail_dir, content_dir=content_dir, manual_assign=True,
        notice_scan_minutes=0,  # the seeded late orders' notices would land in every test's Redis and event log
    ).with_ports(
        redis=console_redis_server.port,
        rasa=free_port(),  # nothing listens: the transcript is "unavailable"
        actions=free_port(), handoff=port, smtp=free_port(),
    )
    with running_handoff(settings, base) as url:
        yield Service(url, port, console_redis_server.port, agents_file, var_dir, mail_dir, base / "service.log",
                      orders, content_dir)


@pytest_asyncio.fixture()
async def live_store(redis_client: Redis, console_service: Service) -> AsyncIterator[HandoffStore]:
    """A store on the service's Redis with the service's key prefix (flushed per test)."""
    yield HandoffStore(redis_client, RedisKeys())


@pytest_asyncio.fixture()
async def http(console_service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=console_service.base_url, follow_redirects=False, timeout=15) as client:
        yield client
