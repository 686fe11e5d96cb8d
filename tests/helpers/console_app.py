"""The handoff service in the test's own event loop (real HTTP on a free port), with what a test swaps in.

For the console's security tests: a copy of the demo agents file the test may
change, settings the test chooses (public URL, SMTP host...), and a login
limiter with the test's policy and a password check the test can count.
"""

from __future__ import annotations

import itertools
import shutil
import socket
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Dict, Optional

import httpx
from sanic import Sanic

from console.app import create_app
from console.context import state
from console.sessions import LoginLimiter, LoginPolicy
from core.processes import free_port
from core.settings import PROJECT_ROOT, Settings
from handoff.agents import password_matches
from tests.helpers.redis_server import RedisServer
from tests.helpers.sanic_server import serving
from wiring.container import Container

_names = itertools.count()


@dataclass
class CountingVerify:
    """Stands for argon2's check: counts every password actually evaluated (thread-safe)."""

    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, password_hash: str, password: str) -> bool:
        with self._lock:
            self.calls += 1
        return password_matches(password_hash, password)


@dataclass
class RunningConsole:
    """A handoff service running in the test's loop."""

    base_url: str
    app: Sanic
    settings: Settings
    agents_file: Path


def copy_demo_agents(folder: Path) -> Path:
    """A copy of the demo agents file (``dana`` is a supervisor, ``omer`` and ``sarah`` agents)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "agents.yml"
    shutil.copy(PROJECT_ROOT / "handoff" / "agents.yml", target)
    return target


@asynccontextmanager
async def running_console(
    redis_server: RedisServer,
    folder: Path,
    *,
    policy: Optional[LoginPolicy] = None,
    verify: Optional[CountingVerify] = None,
    agents_file: Optional[Path] = None,
    prepare: Optional[Callable[[Sanic], None]] = None,
    **changes: Any,
) -> AsyncIterator[RunningConsole]:
    """Starts ``create_app`` on a free port; ``changes`` are settings (e.g. ``public_url``).

    ``prepare`` may add routes to the app before it starts.
    """
    agents = agents_file or copy_demo_agents(folder)
    # No SMTP server: a port this test holds bound without listening, so the mail worker's attempts are
    # refused at once (a merely free port may meanwhile be taken by another test's server, which would
    # accept the connection and leave the worker waiting for a greeting).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as no_smtp:
        no_smtp.bind(("127.0.0.1", 0))
        settings = Settings(var_dir=folder / "var", agents_file=agents, manual_assign=True, **changes).with_ports(
            redis=redis_server.port, rasa=free_port(), actions=free_port(), smtp=no_smtp.getsockname()[1])
        app = create_app(settings, container=Container(settings), name=f"console_security_{next(_names)}")
        service = state(app)
        if policy is not None or verify is not None:
            kwargs: Dict[str, Any] = {"verify": verify} if verify is not None else {}
            service.limiter = LoginLimiter(service.redis, service.container.keys, policy, **kwargs)
        if prepare is not None:
            prepare(app)
        async with serving(app) as base:
            yield RunningConsole(base, app, settings, agents)


def hidden_field(html: str, name: str) -> str:
    """The value of a hidden form field."""
    marker = f'name="{name}" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


async def login_form(client: httpx.AsyncClient, source: str = "") -> str:
    """Opens the login form (as ``source`` behind the front door, if given); returns its CSRF token."""
    page = await client.get("/console/login", headers=_from(source))
    assert page.status_code == 200, page.text
    return hidden_field(page.text, "csrf_token")


async def post_login(client: httpx.AsyncClient, token: str, agent_id: str, password: str,
                     source: str = "") -> httpx.Response:
    """Posts the login form (as ``source`` behind the front door, if given)."""
    return await client.post("/console/login", headers=_from(source),
                             data={"agent_id": agent_id, "password": password, "csrf_token": token})


def _from(source: str) -> Dict[str, str]:
    return {"X-Forwarded-For": source} if source else {}
