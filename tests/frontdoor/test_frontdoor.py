"""The TLS front door (nginx, started by the supervisor) in front of two stand-in services on loopback.

The stand-ins answer every path and record what reached them, so each test shows
what a caller on the internet gets through the door and what the service behind
it sees: only the public routes pass (with the caller's address and "https"),
everything else is 404 at the door, oversized bodies 413, websockets upgrade.
The same door in front of the real stack: tests/e2e/test_frontdoor.py.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Iterator, List, Tuple

import httpx
import pytest
import pytest_asyncio
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response
from websockets.client import connect

from core.processes import free_port
from core.settings import Settings
from edge.ws import receive
from kesher.frontdoor import BALANCED, nginx_command, render_config, render_upstreams, write_config
from kesher.supervisor import Supervisor
from tests.frontdoor.certs import LocalTls, issue_local_tls
from tests.helpers.sanic_server import serving
from tests.helpers.waiting import until_sync

# Reach their service through the door: (method, path, service).
PUBLIC: List[Tuple[str, str, str]] = [
    ("GET", "/webhooks/web/widget.js", "rasa"),
    ("GET", "/webhooks/web/widget.css", "rasa"),
    ("GET", "/webhooks/web/demo", "rasa"),
    ("POST", "/webhooks/web/session", "rasa"),
    ("OPTIONS", "/webhooks/web/session", "rasa"),
    ("POST", "/webhooks/web/webhook", "rasa"),
    ("GET", "/webhooks/web/notices/unsubscribe", "rasa"),
    ("POST", "/webhooks/web/notices/unsubscribe", "rasa"),
    ("POST", "/webhooks/whatsapp/webhook", "rasa"),
    ("POST", "/webhooks/whatsapp/status", "rasa"),
    ("POST", "/webhooks/telegram/webhook", "rasa"),
    ("GET", "/console", "handoff"),
    ("GET", "/console/login", "handoff"),
    ("POST", "/console/login", "handoff"),
    ("GET", "/console/api/queue", "handoff"),
    ("POST", "/console/api/chats/whatsapp%3A%2B972501234567/messages", "handoff"),
    ("GET", "/console/static/console.js", "handoff"),
    ("GET", "/console/mail", "handoff"),
]

# Answered 404 by the door, never reaching a service.
FORBIDDEN: List[Tuple[str, str]] = [
    ("GET", "/"),
    ("GET", "/status"),
    ("GET", "/version"),
    ("PUT", "/model"),
    ("POST", "/model/parse"),
    ("GET", "/conversations/web:abc/tracker"),
    ("POST", "/conversations/web:abc/trigger_intent"),
    ("POST", "/webhooks/rest/webhook"),
    ("GET", "/webhooks/rest/"),
    ("POST", "/webhooks/kesher_callback/webhook"),
    ("GET", "/webhooks/web/"),
    ("GET", "/webhooks/whatsapp/"),
    ("GET", "/webhooks/telegram/"),
    ("GET", "/webhooks/web/widget.jsx"),
    ("GET", "/webhooks/web/notices/"),
    ("GET", "/health"),
    ("POST", "/webhook"),  # the action server's path
    ("GET", "/models/kesher.tar.gz"),  # the model server's
    ("GET", "/metrics"),  # every process's Prometheus metrics: for the loopback scraper only
    ("GET", "/metrics/"),
    ("GET", "/console/../metrics"),
    ("GET", "/webhooks/web/../../metrics"),
    ("GET", "/consoles"),
    ("GET", "/console/../webhooks/rest/webhook"),
    ("GET", "/console/%2e%2e/status"),
    ("GET", "/webhooks/web/../../status"),
]


class StandIn:
    """A service behind the door: answers any path with what it received, echoes websocket frames."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: List[Dict[str, Any]] = []
        self.app = Sanic(f"door-{name}-{free_port()}")

        async def anything(request: Request, path: str = "") -> HTTPResponse:
            record = {"service": name, "method": request.method, "path": request.path,
                      "headers": {k.lower(): v for k, v in request.headers.items()}, "bytes": len(request.body)}
            self.seen.append(record)
            return json_response(record)

        methods = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]
        self.app.add_route(anything, "/", methods=methods)
        self.app.add_route(anything, "/<path:path>", methods=methods)

        async def echo(request: Request, ws: Any) -> None:
            frame = await receive(ws)
            await ws.send(json.dumps({"service": name, "path": request.path, "echo": frame,
                                      "proto": request.headers.get("x-forwarded-proto", "")}))

        for path in ("/webhooks/web/socket", "/console/ws"):
            self.app.add_websocket_route(echo, path, name=f"ws{path.replace('/', '_')}")

    def paths(self) -> List[str]:
        return [r["path"] for r in self.seen]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LocalTls:
    return issue_local_tls(tmp_path_factory.mktemp("tls"))


@pytest_asyncio.fixture()
async def services() -> AsyncIterator[Dict[str, Tuple[StandIn, int]]]:
    rasa, handoff = StandIn("rasa"), StandIn("handoff")
    async with serving(rasa.app) as rasa_url, serving(handoff.app) as handoff_url:
        yield {"rasa": (rasa, int(rasa_url.rsplit(":", 1)[1])),
               "handoff": (handoff, int(handoff_url.rsplit(":", 1)[1]))}


def door_settings(tmp_path: Path, tls: LocalTls, rasa_port: int, handoff_port: int, **more: Any) -> Settings:
    return Settings(var_dir=tmp_path / "var").replace(
        public_host="localhost", public_port=free_port(), public_bind="127.0.0.1",
        tls_cert=tls.server_cert, tls_key=tls.server_key, rasa_port=rasa_port, handoff_port=handoff_port,
        public_max_body="64k", **more)


@pytest.fixture()
def door(tmp_path: Path, tls: LocalTls, services: Dict[str, Tuple[StandIn, int]]) -> Iterator[Settings]:
    settings = door_settings(tmp_path, tls, services["rasa"][1], services["handoff"][1],
                             public_http_port=free_port())
    supervisor = Supervisor(settings, parts=("frontdoor",))
    assert [p.name for p in supervisor.parts] == ["frontdoor"]
    supervisor.start()
    yield settings
    supervisor.stop()


@pytest_asyncio.fixture()
async def client(door: Settings, tls: LocalTls) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=door.public_url, verify=tls.client_context(), timeout=15) as http:
        yield http


async def _raw(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    # httpx would normalise "/../"; the door must see the path as an attacker sends it.
    request = client.build_request(method, path, **kwargs)
    request.url = request.url.copy_with(raw_path=path.encode())
    return await client.send(request)


def test_a_public_host_implies_the_https_public_url_twilio_signs(tmp_path, tls):
    settings = door_settings(tmp_path, tls, 1, 2)
    assert settings.public_url == f"https://localhost:{settings.public_port}"
    assert settings.replace(public_port=443, public_url="").public_url == "https://localhost"
    assert settings.replace(public_url="https://chat.shop.example").public_url == "https://chat.shop.example"


def test_without_a_public_host_there_is_no_front_door(tmp_path):
    supervisor = Supervisor(Settings(var_dir=tmp_path))
    assert "frontdoor" not in [p.name for p in supervisor.parts]
    with pytest.raises(ValueError, match="KESHER_TLS_CERT"):
        Settings(var_dir=tmp_path, public_host="chat.shop.example")


@pytest.mark.parametrize("size", ["0", "1g", "10 m", "1m; return 200", "ten"])
def test_the_body_cap_must_be_an_nginx_size(size):
    with pytest.raises(ValueError, match="KESHER_PUBLIC_MAX_BODY"):
        Settings(public_max_body=size)


def test_a_host_name_nginx_would_misread_is_refused(tmp_path, tls):
    with pytest.raises(ValueError, match="KESHER_PUBLIC_HOST"):
        render_config(door_settings(tmp_path, tls, 1, 2).replace(public_host="x; return 200"))


def test_the_generated_configuration_is_valid_for_nginx(tmp_path, tls):
    settings = door_settings(tmp_path, tls, free_port(), free_port(), public_http_port=free_port())
    config = write_config(settings)
    checked = subprocess.run(["nginx", "-t", "-p", f"{settings.var_dir / 'frontdoor'}/", "-c", str(config)],
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


@pytest.mark.parametrize(("method", "path", "service"), PUBLIC)
async def test_each_public_route_reaches_its_service_with_the_callers_address(client, services, method, path,
                                                                            service):
    response = await _raw(client, method, path, content=b"x=1",
                          headers={"X-Forwarded-For": "6.6.6.6", "Forwarded": "for=6.6.6.6;proto=http",
                                   "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["service"] == service and seen["path"] == path.split("?")[0]
    headers = seen["headers"]
    assert headers["x-forwarded-for"] == "127.0.0.1"  # the caller's real address, not the one it claimed
    assert headers["x-forwarded-proto"] == "https"
    assert headers["host"] == f"localhost:{client.base_url.port}"
    assert "forwarded" not in headers
    assert response.headers["strict-transport-security"].startswith("max-age=")


@pytest.mark.parametrize(("method", "path"), FORBIDDEN)
async def test_everything_else_is_404_at_the_door(client, services, method, path):
    response = await _raw(client, method, path, content=b"{}")
    assert response.status_code == 404
    assert services["rasa"][0].seen == [] and services["handoff"][0].seen == []


async def test_a_body_over_the_cap_is_refused_before_any_service(client, services):
    response = await client.post("/webhooks/telegram/webhook", content=b"x" * (65 * 1024))
    assert response.status_code == 413
    assert services["rasa"][0].seen == []
    fits = await client.post("/webhooks/telegram/webhook", content=b"x" * (60 * 1024))
    assert fits.status_code == 200 and fits.json()["bytes"] == 60 * 1024


@pytest.mark.parametrize(("path", "service"), [("/webhooks/web/socket", "rasa"), ("/console/ws", "handoff")])
async def test_websockets_upgrade_through_the_door(door, tls, services, path, service):
    url = door.public_url.replace("https://", "wss://") + path
    async with connect(url, ssl=tls.client_context(), open_timeout=15) as ws:
        await ws.send('{"type": "hello"}')
        answer = json.loads(await ws.recv())
    assert answer == {"service": service, "path": path, "echo": '{"type": "hello"}', "proto": "https"}


async def test_plain_http_only_redirects_to_https(door, services):
    async with httpx.AsyncClient(timeout=15) as http:
        response = await http.get(f"http://127.0.0.1:{door.public_http_port}/console/login?next=1")
    assert response.status_code == 301
    assert response.headers["location"] == f"{door.public_url}/console/login?next=1"
    assert services["handoff"][0].seen == []


def test_plain_http_on_the_tls_port_is_not_served(door):
    response = httpx.get(f"http://127.0.0.1:{door.public_port}/console/login", timeout=15)
    assert response.status_code == 400  # nginx: "The plain HTTP request was sent to HTTPS port"


# -- the loopback balancer (KESHER_REPLICAS > 1): the same nginx, on each replicated part's usual port --------


@pytest.fixture()
def balancer(tmp_path: Path, services: Dict[str, Tuple[StandIn, int]]) -> Iterator[Settings]:
    """Nginx on loopback in front of the stand-ins, as the supervisor runs it for replicas (no public host)."""
    settings = Settings(var_dir=tmp_path / "var").replace(rasa_port=free_port(), handoff_port=free_port())
    config = write_config(settings, balanced=("rasa", "handoff"),
                          upstreams={"rasa": [services["rasa"][1]], "handoff": [services["handoff"][1]]})
    nginx = subprocess.Popen(nginx_command(settings, config), stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        until_sync(lambda: _listens(settings.rasa_port) and _listens(settings.handoff_port),
                   what="the balancer listening", timeout=30, every=0.05)
        yield settings
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)


def _listens(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


async def test_the_balancer_passes_everything_on_loopback_and_says_which_replica_answered(balancer, services):
    async with httpx.AsyncClient(timeout=15) as http:
        status = await http.get(f"{balancer.rasa_url}/status")  # Rasa's API: 404 at the door, passed here
        console = await http.post(f"{balancer.handoff_url}/console/login", content=b"x" * (2 * 1024 * 1024))
    assert status.status_code == 200 and status.json()["service"] == "rasa"
    assert status.headers["x-kesher-upstream"] == f"127.0.0.1:{services['rasa'][1]}"
    # No cap of its own: each service checks its own body limit (Rasa sends whole trackers to the actions).
    assert console.status_code == 200 and console.json()["bytes"] == 2 * 1024 * 1024


@pytest.mark.parametrize(("path", "service"), [("/webhooks/web/socket", "rasa"), ("/console/ws", "handoff")])
async def test_websockets_upgrade_through_the_balancer(balancer, services, path, service):
    base = balancer.rasa_url if service == "rasa" else balancer.handoff_url
    async with connect(base.replace("http://", "ws://") + path, open_timeout=15) as ws:
        await ws.send('{"type": "hello"}')
        answer = json.loads(await ws.recv())
    assert answer == {"service": service, "path": path, "echo": '{"type": "hello"}', "proto": "http"}


def test_the_balancer_s_configuration_is_valid_with_the_door_and_no_replica_ready(tmp_path, tls):
    settings = door_settings(tmp_path, tls, free_port(), free_port())
    config = write_config(settings, balanced=BALANCED, upstreams={})
    checked = subprocess.run(["nginx", "-t", "-p", f"{settings.var_dir / 'frontdoor'}/", "-c", str(config)],
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    assert render_upstreams({}).count("down;") == len(BALANCED)
    assert "listen 127.0.0.1:" in config.read_text() and "ssl;" in config.read_text()
