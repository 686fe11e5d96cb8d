"""The late-order e-mail's unsubscribe link, end to end: the orders store, real Redis, the mail worker and a real
SMTP server (aiosmtpd), the web channel over real HTTP (Sanic) and, for the page, Debian's Chromium."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import AsyncIterator, List, Tuple
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

import httpx
import pytest
import pytest_asyncio
from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.orm import Session

from actions.orders.domain import Order
from actions.orders.models import OrderRow
from actions.orders.seed import seed_database
from connectors.web import WebChannel
from core.bidi import strip_controls
from core.service_events import EventKind
from core.settings import Settings
from handoff.email_codes import email_digest
from handoff.mail.compose import late_notice_mail
from handoff.notices import UNSUBSCRIBE_PATH, is_opted_out, unsubscribe_token, unsubscribe_url
from kesher.cli import notices_stop
from tests.connectors.conftest import WEB_SECRET
from tests.connectors.test_notices import NEW_ESTIMATE, TODAY, _open_orders
from tests.helpers.browser import chromium, needs_chromium
from tests.helpers.channels import ChannelApp, serving_channel
from tests.helpers.smtp import SmtpSink
from tests.helpers.texts import catalog
from wiring.container import Container

ONE_CLICK = b"List-Unsubscribe=One-Click"  # RFC 8058's body, as a mail client posts it
FORM = {"content-type": "application/x-www-form-urlencoded"}


async def _one_click(http: httpx.AsyncClient, url: str) -> httpx.Response:
    """A mail client's one-click unsubscribe: a POST of ``List-Unsubscribe=One-Click`` to the header's link."""
    return await http.post(url, content=ONE_CLICK, headers=FORM)


@pytest_asyncio.fixture()
async def served(channel_settings: Settings, smtp_sink: SmtpSink, redis_client: Redis,
                 tmp_path: Path) -> AsyncIterator[Tuple[ChannelApp, Container]]:
    """``rasa run``'s web channel (the public listener) and the handoff service's side, whose public URL it is."""
    async with serving_channel(lambda rt: WebChannel(WEB_SECRET, rt=rt), channel_settings) as app:
        public = app.base.removesuffix("/webhooks/web")
        settings = channel_settings.replace(smtp_host="127.0.0.1", smtp_port=smtp_sink.port, public_url=public,
                                            orders_db_url=f"sqlite:///{tmp_path / 'orders.db'}")
        container = Container(settings)
        seed_database(container.orders.engine, TODAY)
        yield app, container
        await container.close()


def _mails_to(sink: SmtpSink, address: str) -> List[EmailMessage]:
    return [m for m in sink.messages if m["To"].addresses[0].addr_spec == address]


async def _late_mail(service: Container, sink: SmtpSink, order: Order, estimate: date = NEW_ESTIMATE) -> EmailMessage:
    """Delays ``order`` (its customer never chatted: e-mail only) and returns the notice e-mail it sent."""
    await service.orders.mark_delayed(order.order_id, estimate, datetime.now())
    before = len(_mails_to(sink, order.email))
    assert await service.mail_worker().run_once() >= 1
    mails = _mails_to(sink, order.email)
    assert len(mails) == before + 1
    return mails[-1]


async def _mailed_link(service: Container, sink: SmtpSink, language: str) -> Tuple[Order, str]:
    """An open order of a ``language`` customer, delayed, and the unsubscribe link its notice e-mail carries."""
    order = _open_orders(service.orders, language)[0]
    return order, _link(await _late_mail(service, sink, order))


def _link(mail: EmailMessage) -> str:
    header = str(mail["List-Unsubscribe"])
    assert header.startswith("<") and header.endswith(">")
    return header[1:-1]


def _with_query(link: str, **changes: str) -> str:
    parts = urlsplit(link)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query="&".join(f"{k}={quote(v)}" for k, v in query.items() if v != "-")))


async def _stops(redis: Redis, service: Container) -> List[dict]:
    return [f for _, f in await redis.xrange(service.keys.service_events())
            if f["kind"] == EventKind.NOTICE_SENT and f["reason"] == "notices_stopped"]


def _other_order_of_the_same_address(service: Container, order: Order) -> Order:
    """A second open order, given the first one's e-mail address (the customer ordered twice)."""
    other = next(o for o in _open_orders(service.orders, order.language) if o.order_id != order.order_id)
    with Session(service.orders.engine) as session, session.begin():
        session.execute(update(OrderRow).where(OrderRow.order_id == other.order_id).values(email=order.email))
    return other


async def test_the_late_order_mail_carries_a_signed_one_click_link_without_the_address(
        served, smtp_sink: SmtpSink) -> None:
    _app, service = served
    order = _open_orders(service.orders, "en")[0]
    mail = await _late_mail(service, smtp_sink, order)

    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = _link(mail)
    assert link.startswith(service.settings.public_url + UNSUBSCRIBE_PATH + "?")
    query = parse_qs(urlsplit(link).query)
    assert query["e"] == [email_digest(order.email)] and len(query["t"][0]) == 64 and query["lang"] == ["en"]
    local = order.email.split("@")[0]
    assert local not in link and quote(order.email) not in link
    # On the wire the header is the <URL> itself, on one line: not folded, not RFC 2047 encoded words,
    # which mail clients would not read as RFC 2369's link.
    raw = smtp_sink.raw[smtp_sink.messages.index(mail)]
    assert f"\r\nList-Unsubscribe: <{link}>\r\n".encode() in raw
    text, page = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None and page is not None
    assert link in text.get_content() and "Unsubscribe with one click" in text.get_content()
    assert f'href="{link.replace("&", "&amp;")}"' in page.get_content()


@needs_chromium
async def test_a_hebrew_customer_unsubscribes_in_a_browser_and_the_next_late_order_sends_no_mail(
        served, smtp_sink: SmtpSink, redis_client: Redis) -> None:
    _app, service = served
    order = _open_orders(service.orders, "he")[0]
    mail = await _late_mail(service, smtp_sink, order)
    link = _link(mail)
    he = catalog()

    async with chromium() as browser:
        page = await browser.new_page()
        opened = await page.goto(link)
        assert opened is not None and opened.status == 200
        assert await page.get_attribute("html", "lang") == "he" and await page.get_attribute("html", "dir") == "rtl"
        assert await page.inner_text("#message") == he.text("unsubscribe_question", "he")
        # Opening the page (what a mail scanner does) changes nothing.
        assert not await is_opted_out(redis_client, service.keys, email=order.email)
        assert await _stops(redis_client, service) == []

        async with page.expect_navigation() as confirmed:
            await page.click("button")
        answer = await confirmed.value
        assert answer is not None and answer.status == 200 and answer.request.method == "POST"
        assert await page.inner_text("#message") == he.text("unsubscribe_done", "he")
        assert await page.query_selector("button") is None
        await page.close()

    assert await is_opted_out(redis_client, service.keys, email=order.email)
    [stop] = await _stops(redis_client, service)
    assert stop["channel"] == "email" and stop["language"] == "he"

    other = _other_order_of_the_same_address(service, order)
    await service.orders.mark_delayed(other.order_id, NEW_ESTIMATE, datetime.now())
    assert await service.mail_worker().run_once() == 0
    assert len(_mails_to(smtp_sink, order.email)) == 1


async def test_a_mail_clients_one_click_post_unsubscribes_and_drops_the_queued_mail(
        served, smtp_sink: SmtpSink, redis_client: Redis) -> None:
    _app, service = served
    order, link = await _mailed_link(service, smtp_sink, "en")
    # A newer estimate: its mail is queued, not sent yet, when the customer clicks "unsubscribe" in the mail client.
    await service.orders.mark_delayed(order.order_id, NEW_ESTIMATE + timedelta(days=3), datetime.now())

    async with httpx.AsyncClient() as http:
        first = await _one_click(http, link)
        again = await _one_click(http, link)
    assert first.status_code == again.status_code == 200
    assert catalog().text("unsubscribe_done", "en") in first.text and "<form" not in first.text
    assert await is_opted_out(redis_client, service.keys, email=order.email)
    assert len(await _stops(redis_client, service)) == 1  # the second POST changed nothing

    assert await service.mail_worker().run_once() == 0  # the queued mail is dropped by the worker's check
    assert await service.outbox.pending() == []
    await service.orders.mark_delayed(order.order_id, NEW_ESTIMATE + timedelta(days=5), datetime.now())
    assert await service.outbox.pending() == []  # and the next delay queues none
    assert len(_mails_to(smtp_sink, order.email)) == 1


async def test_a_forged_or_changed_link_gets_403_and_changes_nothing(
        served, smtp_sink: SmtpSink, redis_client: Redis) -> None:
    _app, service = served
    order, link = await _mailed_link(service, smtp_sink, "en")
    token = parse_qs(urlsplit(link).query)["t"][0]
    forged = [
        _with_query(link, t=("0" if token[0] != "0" else "1") + token[1:]),  # one character changed
        _with_query(link, e=email_digest("someone.else@example.com")),  # another address, this token
        _with_query(link, t=unsubscribe_token("a-secret-of-someone-else", email_digest(order.email))),
        _with_query(link, t="f" * 64),
    ]
    async with httpx.AsyncClient() as http:
        for url in forged:
            for method in ("GET", "POST"):
                response = await (_one_click(http, url) if method == "POST" else http.get(url))
                assert response.status_code == 403, (method, url)
                assert catalog().text("unsubscribe_forbidden", "en") in response.text
                assert "<form" not in response.text
    assert not await is_opted_out(redis_client, service.keys, email=order.email)
    assert not await is_opted_out(redis_client, service.keys, email="someone.else@example.com")
    assert await _stops(redis_client, service) == []


async def test_malformed_links_get_400_never_500(served, smtp_sink: SmtpSink, redis_client: Redis) -> None:
    _app, service = served
    order, link = await _mailed_link(service, smtp_sink, "en")
    digest = email_digest(order.email)
    malformed = [
        _with_query(link, t="-"),
        _with_query(link, e="-"),
        _with_query(link, t="xyz"),
        _with_query(link, e="ה" * 40),
        _with_query(link, t="%00" * 64),
        link + f"&e={digest}",
        link.split("?")[0],
    ]
    async with httpx.AsyncClient() as http:
        for url in malformed:
            for method in ("GET", "POST"):
                response = await http.request(method, url)
                assert response.status_code == 400, (method, url, response.status_code)
        mangled = await http.post(link + "&lang=%FF%FE", content=b"\xff\x00garbage",
                                  headers={"content-type": "multipart/form-data; boundary=x"})
    assert mangled.status_code == 200  # the body is not needed; a broken one is no error
    assert await is_opted_out(redis_client, service.keys, email=order.email)


async def test_the_page_follows_the_security_conventions(served, smtp_sink: SmtpSink) -> None:
    _app, service = served
    _order, link = await _mailed_link(service, smtp_sink, "en")
    async with httpx.AsyncClient() as http:
        page = await http.get(link)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "form-action 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "<script" not in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"  # the link is a credential
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"


async def test_the_page_is_rate_limited_per_client_address(
        channel_settings: Settings, served, smtp_sink: SmtpSink) -> None:
    _app, service = served
    order, link = await _mailed_link(service, smtp_sink, "en")
    strict = channel_settings.replace(limit_unsubscribe_per_source="3/600")
    async with serving_channel(lambda rt: WebChannel(WEB_SECRET, rt=rt), strict) as limited:
        url = limited.base.removesuffix("/webhooks/web") + urlsplit(link)._replace(scheme="", netloc="").geturl()
        async with httpx.AsyncClient() as http:
            answers = [await http.get(url) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1].headers["retry-after"]) > 0
    assert catalog().text("unsubscribe_busy", "en") in answers[-1].text

    # A mail provider posts many customers' one-click unsubscribes from one address: each signed link is
    # counted on its own, so they all go through; the same link posted over and over is limited.
    others = [o for o in _open_orders(service.orders, "en") if o.email != order.email][:4]
    async with serving_channel(lambda rt: WebChannel(WEB_SECRET, rt=rt), strict) as limited:
        public = limited.base.removesuffix("/webhooks/web")
        links = [unsubscribe_url(service.settings.replace(public_url=public), o.email, "en") for o in others]
        async with httpx.AsyncClient() as http:
            posts = [await _one_click(http, url) for url in links]
            repeated = [await _one_click(http, links[0]) for _ in range(3)]
    assert [p.status_code for p in posts] == [200] * len(others) and len(others) == 4
    assert [r.status_code for r in repeated] == [200, 200, 429]


async def test_without_a_public_url_the_mail_has_no_link_and_says_to_reply(served, smtp_sink: SmtpSink) -> None:
    _app, service = served
    order = _open_orders(service.orders, "he")[0]
    mail = late_notice_mail(order, service.settings.replace(public_url=""), catalog(), language="he",
                            estimate="1.1.2030", mail_id="m1")
    assert mail["List-Unsubscribe"] is None and mail["List-Unsubscribe-Post"] is None
    text = mail.get_body(("plain",))
    assert text is not None
    assert catalog().text("mail_late_optout", "he") in strip_controls(text.get_content())
    assert UNSUBSCRIBE_PATH not in mail.as_string()


async def test_an_operator_stops_the_notices_of_a_customer_who_replied_to_the_mail(
        served, smtp_sink: SmtpSink, redis_client: Redis, capsys: pytest.CaptureFixture[str]) -> None:
    _app, service = served
    order = _open_orders(service.orders, "en")[0]
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, notices_stop, service.settings, "not an address") == 1
    assert await loop.run_in_executor(None, notices_stop, service.settings, f"  {order.email.upper()} ") == 0
    assert "gets no more late-order notices" in capsys.readouterr().out
    assert await is_opted_out(redis_client, service.keys, email=order.email)
    [stop] = await _stops(redis_client, service)
    assert stop["channel"] == "email"

    await service.orders.mark_delayed(order.order_id, NEW_ESTIMATE, datetime.now())
    assert await service.mail_worker().run_once() == 0
    assert _mails_to(smtp_sink, order.email) == []


async def test_the_hebrew_mail_keeps_its_link_whole_on_a_line_of_its_own(served, smtp_sink: SmtpSink) -> None:
    _app, service = served
    order = _open_orders(service.orders, "he")[0]
    mail = await _late_mail(service, smtp_sink, order)
    text = mail.get_body(("plain",))
    assert text is not None
    lines = text.get_content().splitlines()
    assert _link(mail) in lines  # no direction mark glued to it, no masking of its hex digits
    words = lines[lines.index(_link(mail)) - 1]
    assert strip_controls(words) == "לא רוצים לקבל הודעות כאלה? להסרה בלחיצה אחת:" and words.startswith("\u200f")
