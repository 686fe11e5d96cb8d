"""Fuzz every route of the agent console: login, the JSON API, the writers' form, the pages, the websocket.

A logged-in supervisor (session cookie and CSRF token) holds one conversation, so
the handlers run with a real session and a real conversation most of the time.
Property: no input gets a 5xx, and every 4xx carries its reason (a JSON
``error`` or a page that says it).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, Optional, Tuple
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sanic.config import DEFAULT_CONFIG
from websockets.client import connect
from websockets.exceptions import ConnectionClosed

from tests.fuzz.checks import check, check_close
from tests.fuzz.servers import FuzzServers
from tests.fuzz.strategies import (
    Body,
    deep,
    dumped,
    encoded,
    form_params,
    json_bodies,
    odd_headers,
    odd_text,
    raw_headers,
    surrogate_text,
)

FUZZ = settings(max_examples=40, derandomize=True, database=None, deadline=None, print_blob=True,
                report_multiple_bugs=False, suppress_health_check=list(HealthCheck))

cids = st.one_of(st.just("FUZZ"), st.just("FUZZ"), odd_text, surrogate_text,
                 st.sampled_from(["..", "%2e%2e", "a" * 300, "whatsapp:+972501234567", " "]))

# Each JSON route with examples of what the console's script sends.
JSON_ROUTES: Dict[str, Tuple[Dict[str, Any], ...]] = {
    "presence": ({"status": "online"}, {"status": "away"}),
    "take": ({},),
    "messages": ({"text": "Hello, I'm looking at it."},),
    "notes": ({"text": "internal note"},),
    "typing": ({},),
    "transfer": ({"to_agent": "dana"}, {"to_team": "orders"}),
    "close": ({"resolution": "no-such-code", "summary": "s", "next_steps": "n"},),
    "order-actions": ({"action": "store_credit", "order_id": "104233", "amount": "10"},
                      {"action": "change_address", "order_id": "104233", "address": "Herzl 1", "confirm": True}),
    "heartbeat": ({"after": 0}, {"after": 1764500000.5}),
    "supervisor/reassign": ({"to_agent": "omer"},),
    "supervisor/join": ({},),
    "supervisor/messages": ({"text": "Hello from the team"},),
}
_OWN_PATHS = {"presence": "/console/api/presence", "heartbeat": "/console/api/heartbeat"}


def _path(route: str, cid: str, fuzz_cid: str) -> str:
    if route in _OWN_PATHS:
        return _OWN_PATHS[route]
    cid = quote(fuzz_cid if cid == "FUZZ" else cid, safe="", errors="surrogatepass")
    if route.startswith("supervisor/"):
        return f"/console/api/supervisor/chats/{cid}/{route.removeprefix('supervisor/')}"
    return f"/console/api/chats/{cid}/{route}"


def _client(fuzz: FuzzServers, agent: Dict[str, Any]) -> httpx.Client:
    return httpx.Client(base_url=fuzz.console_url, cookies=agent["cookies"], timeout=30)


def _urlencoded(pairs: Dict[str, str]) -> str:
    """``pairs`` as a form body or query string, surrogates and all (the fuzz sends them on purpose)."""
    return "&".join(f"{quote(k, errors='surrogatepass')}={quote(v, errors='surrogatepass')}" for k, v in pairs.items())


def _post_form(fuzz: FuzzServers, agent: Dict[str, Any], path: str, form: Dict[str, str]) -> httpx.Response:
    """Posts ``form`` (its ``CSRF`` placeholder replaced by the session's token) as the browser's form would."""
    form = {k: (agent["csrf"] if v == "CSRF" else v) for k, v in form.items()}
    with _client(fuzz, agent) as http:
        return http.post(path, content=encoded(_urlencoded(form)),
                         headers={"content-type": "application/x-www-form-urlencoded"})


def test_console_login(fuzz, agent):
    @settings(FUZZ, max_examples=30)  # each login costs an argon2 hash
    @given(form=form_params({"agent_id": "nobody-here", "password": "wrong-password", "csrf_token": "LOGIN"}),
           headers=odd_headers())
    @example(form={"agent_id": "nobody-here", "password": "x" * 300_000, "csrf_token": "LOGIN"}, headers={})
    def run(form: Dict[str, str], headers: Dict[str, str]) -> None:
        with httpx.Client(base_url=fuzz.console_url, timeout=30) as http:
            page = http.get("/console/login")
            token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            form = {k: (token if v == "LOGIN" else v) for k, v in form.items()}
            body = _urlencoded(form)
            headers = {**headers, "content-type": "application/x-www-form-urlencoded"}
            response = http.post("/console/login", content=encoded(body),
                                 headers=raw_headers(headers))
        check("POST /console/login", response, {"form": form, "headers": headers})

    run()


@pytest.mark.parametrize("route", sorted(JSON_ROUTES))
def test_console_json_route(fuzz, agent, route):
    @FUZZ
    @given(body=json_bodies(*JSON_ROUTES[route]), cid=cids, headers=odd_headers(),
           csrf=st.sampled_from(["right"] * 5 + ["missing", "wrong"]))
    @example(body=dumped(JSON_ROUTES[route][0]), cid="FUZZ", headers={"content-type": "application/json"},
             csrf="right")  # the route's own request, so its handler's happy path is always among the inputs
    @example(body=deep(5_000, "dict"), cid="FUZZ", headers={"content-type": "application/json"}, csrf="right")
    def run(body: Body, cid: str, headers: Dict[str, str], csrf: str) -> None:
        headers = {**headers, "x-csrf-token": {"right": agent["csrf"], "wrong": "x" * 32, "missing": ""}[csrf]}
        headers = {k: v for k, v in headers.items() if v or k == "content-type"}
        headers.pop("cookie", None)
        path = _path(route, cid, agent["cid"])
        with _client(fuzz, agent) as http:
            response = http.post(path, content=encoded(body), headers=raw_headers(headers))
        check(f"POST /console/api/.../{route}", response, {"path": path, "body": body, "headers": headers})

    run()


# The writers' and the desk's forms (no cid in the path: a 404 would mean the fuzz misses the handler).
FORM_ROUTES: Dict[str, Dict[str, str]] = {
    "/console/writers/questions/add": {"text": "where is my parcel", "intent": "order_status", "language": "en",
                                       "csrf_token": "CSRF"},
    "/console/writers/questions/dismiss": {"group": "0123456789abcdef", "csrf_token": "CSRF"},
}


@pytest.mark.parametrize("route", sorted(FORM_ROUTES))
def test_console_form_route(fuzz, agent, route):
    @FUZZ
    @given(form=form_params(FORM_ROUTES[route]))
    def run(form: Dict[str, str]) -> None:
        response = _post_form(fuzz, agent, route, form)
        check(f"POST {route}", response, {"form": form})
        assert response.status_code != 404, f"POST {route} is not a route: {response.text[:200]}"

    run()


def test_console_callback_close_form(fuzz, agent):
    @FUZZ
    @given(form=form_params({"outcome": "reached", "note": "called back", "csrf_token": "CSRF"}), callback_id=cids)
    def run(form: Dict[str, str], callback_id: str) -> None:
        path = f"/console/callbacks/{quote(callback_id, safe='', errors='surrogatepass')}/close"
        response = _post_form(fuzz, agent, path, form)
        check("POST /console/callbacks/{id}/close", response, {"path": path, "form": form})

    run()


def test_console_language_form(fuzz, agent):
    @FUZZ
    @given(form=form_params({"language": "he", "next": "/console", "csrf_token": "CSRF"}))
    def run(form: Dict[str, str]) -> None:
        response = _post_form(fuzz, agent, "/console/language", form)
        check("POST /console/language", response, {"form": form})
        assert response.status_code != 303 or not response.headers["location"].startswith(("//", "http")), form

    run()


GET_ROUTES = ["/console/api/chats/{cid}", "/console/api/chats/{cid}/events", "/console/api/chats/{cid}/transcript",
              "/console/api/chats/{cid}/panel", "/console/mail/{cid}", "/console/mail/{cid}/body",
              "/console/writers/flows/{cid}", "/console/api/queue", "/console/api/me",
              "/console/api/chats/{cid}/order-actions", "/console/api/search?q={cid}", "/console/api/agents",
              "/console/supervisor", "/console/api/supervisor", "/console/api/supervisor/chats/{cid}/events",
              "/console/callbacks", "/console/undelivered", "/console/api/uploads/{cid}", "/console/mail",
              "/console/writers", "/console/api/canned", "/console/api/chats"]


def test_console_get_routes(fuzz, agent):
    @settings(FUZZ, max_examples=4 * len(GET_ROUTES))
    @given(route=st.sampled_from(GET_ROUTES), cid=cids,
           query=st.dictionaries(st.sampled_from(["after", "language", "added", "error", "x"]),
                                 st.one_of(odd_text, surrogate_text, st.just("1-1")), max_size=2))
    def run(route: str, cid: str, query: Dict[str, str]) -> None:
        path = route.format(cid=quote(agent["cid"] if cid == "FUZZ" else cid, safe="", errors="surrogatepass"))
        qs = _urlencoded(query)
        with _client(fuzz, agent) as http:
            response = http.get(path + (("&" if "?" in path else "?") + qs if qs else ""))
        check(f"GET {route}", response, {"path": path, "query": qs})

    run()


DASHBOARD_ROUTES = ["/console/dashboard", "/console/dashboard/report.csv", "/console/dashboard/breakdown.csv",
                    "/console/api/dashboard", "/console/writers/questions"]
dashboard_values = st.one_of(odd_text, surrogate_text, st.sampled_from(
    ["today", "7d", "30d", "custom", "2026-03-01", "2026-02-30", "0001-01-01", "9999-12-31", "web", "he", "agent"]))


def test_console_dashboard_filters(fuzz, agent):
    @FUZZ
    @given(route=st.sampled_from(DASHBOARD_ROUTES),
           query=st.dictionaries(st.sampled_from(["period", "from", "to", "channel", "language", "by", "q"]),
                                 dashboard_values, max_size=4))
    @example(route="/console/api/dashboard", query={"period": "custom", "from": "9999-12-31", "to": "9999-12-31"})
    @example(route="/console/dashboard/report.csv", query={"from": "0001-01-01", "to": "0001-01-01"})
    @example(route="/console/dashboard", query={"period": "custom", "from": "2026-03-01", "to": "2026-03-01",
                                                "channel": "web", "language": "he"})
    def run(route: str, query: Dict[str, str]) -> None:
        qs = _urlencoded(query)
        with _client(fuzz, agent) as http:
            response = http.get(route + ("?" + qs if qs else ""))
        check(f"GET {route}", response, {"query": qs})

    run()


async def _console_socket(url: str, cookies: Dict[str, str], origin: str, frame: str) -> Tuple[list, Optional[int]]:
    received: list = []
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    async with connect(url, extra_headers={"Cookie": cookie}, origin=origin, max_size=2**24,  # type: ignore[arg-type]
                       open_timeout=15, close_timeout=5) as ws:
        try:
            await ws.send(frame)
            await ws.send(json.dumps({"type": "watch", "cid": "fuzz-marker"}))
            while True:
                answer = json.loads(await asyncio.wait_for(ws.recv(), 15))
                received.append(answer)
                if answer.get("type") == "watching" and answer.get("cid") == "":
                    return received, None
        except ConnectionClosed:
            return received, ws.close_code
    return received, ws.close_code


def test_console_websocket_frames(fuzz, agent):
    url = fuzz.console_url.replace("http://", "ws://") + "/console/ws"

    @settings(FUZZ, max_examples=30)
    @given(frame=json_bodies({"type": "watch", "cid": agent["cid"]}, {"type": "ping"}))
    def run(frame: Body) -> None:
        text = frame.decode("latin-1") if isinstance(frame, bytes) else frame
        received, code = asyncio.run(_console_socket(url, agent["cookies"], fuzz.console_url, text))
        if code == 1006 and len(text.encode("utf-8")) > int(str(DEFAULT_CONFIG["WEBSOCKET_MAX_SIZE"])):
            # The server refuses a frame over its limit with 1009 and closes; when it closes while the client is
            # still writing the frame, the client sees the connection drop (1006) instead. A refusal, provided
            # the service is still there: a fresh connection still gets its answer.
            after, after_code = asyncio.run(_console_socket(url, agent["cookies"], fuzz.console_url, "{}"))
            assert after_code is None and after, f"the console's websocket did not answer after a refusal: {after}"
            code = 1009
        check_close("WS /console/ws", 1000 if code is None else code, {"frame": frame, "received": received})

    run()
