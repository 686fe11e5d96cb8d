"""Logs never show a bot token or a secret, and Kesher's own lines never show a phone or an e-mail in clear.

Records go through logging configured the way a Kesher process does it
(``basicConfig`` on the root logger, then :func:`install_log_redaction`), into
a stream this test reads; handlers added afterwards (as Rasa and Sanic do) are
covered too.
"""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from typing import Iterator

import pytest

import core.logs
from core.logs import REDACTED, install_log_redaction
from core.settings import PROJECT_ROOT, Settings

TOKEN = "7012345678:AAHk3v-Qz9_realLookingTelegramTokenXyz12"
URL = f"https://api.telegram.org/bot{TOKEN}/sendMessage"
PHONE = "+972501234567"
EMAIL = "noa.cohen@example.com"
API_TOKEN = "rasa-api-token-5f2c9a"
TWILIO = "twilio-auth-abcdef123456"


_USED_LOGGERS = ("telegram", "telegram.ext", "telegram.ext.Updater", "rasa", "rasa.core", "rasa.core.channels",
                 "connectors", "connectors.telegram", "connectors.base", "handoff", "handoff.mail",
                 "handoff.mail.outbox", "handoff.router", "sanic", "sanic.root", "sanic.error", "kesher", "kesher.cli",
                 "httpx", "httpx.sub", "httpcore", "aiohttp", "aiohttp.client", "urllib3")


@pytest.fixture()
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The root logger writing into a string, as ``kesher serve`` sets it up; every change undone afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_factory = logging.getLogRecordFactory()
    noisy = {name: logging.getLogger(name).level for name in core.logs.NOISY_LOGGERS}
    # Another test in this worker may have configured logging with disable_existing_loggers (Sanic, Rasa do):
    # the loggers these tests write to are enabled and propagate, as in a fresh process.
    used = [logging.getLogger(name) for name in _USED_LOGGERS]
    saved_flags = [(lg, lg.disabled, lg.propagate, lg.level) for lg in used]
    for lg in used:
        lg.disabled, lg.propagate = False, True
        lg.setLevel(logging.NOTSET)
    monkeypatch.setattr(core.logs, "_installed", None)
    logging.setLogRecordFactory(logging.LogRecord)  # as in a fresh process: no redaction installed by another test
    stream = io.StringIO()
    root.handlers = [logging.StreamHandler(stream)]
    root.setLevel(logging.INFO)
    settings = Settings(telegram_token=TOKEN, rasa_api_token=API_TOKEN, twilio_auth_token=TWILIO)
    install_log_redaction(settings)
    try:
        yield stream
    finally:
        logging.setLogRecordFactory(saved_factory)
        root.handlers, root.level = saved_handlers, saved_level
        for name, level in noisy.items():
            logging.getLogger(name).setLevel(level)
        for lg, disabled, propagate, level in saved_flags:
            lg.disabled, lg.propagate = disabled, propagate
            lg.setLevel(level)


def test_http_clients_do_not_log_request_urls_at_info(captured: io.StringIO) -> None:
    for name in ("httpx", "httpcore", "aiohttp.client", "urllib3"):
        logging.getLogger(name).info('HTTP Request: POST %s "HTTP/1.1 200 OK"', URL)
    logging.getLogger("httpx.sub").info("child logger: %s", URL)
    assert captured.getvalue() == ""


def test_a_telegram_token_is_redacted_whoever_logs_it(captured: io.StringIO) -> None:
    logging.getLogger("httpx").warning("HTTP Request: POST %s failed", URL)
    logging.getLogger("telegram.ext.Updater").error("Error while calling %s", URL)
    logging.getLogger("rasa.core.channels").info("webhook %s?token=%s", "/conversations/x/tracker", API_TOKEN)
    try:
        raise RuntimeError(f"Cannot connect to {URL} with auth {TWILIO}")
    except RuntimeError:
        logging.getLogger("connectors.telegram").exception("sending failed")
    out = captured.getvalue()
    assert TOKEN not in out and TOKEN.split(":")[1] not in out
    assert API_TOKEN not in out and TWILIO not in out
    assert f"bot{REDACTED}/sendMessage" in out and f"token={REDACTED}" in out
    assert "RuntimeError: Cannot connect to" in out  # the traceback is kept, only the secret goes


def test_kesher_lines_mask_phones_and_emails(captured: io.StringIO) -> None:
    log = logging.getLogger("connectors.base")
    log.info("channel=%s cid=%s message=%s routed=%s", "whatsapp", f"whatsapp:{PHONE}", "m1", "bot")
    logging.getLogger("handoff.mail.outbox").info("mail %s sent: %s for %s to %s", "id1", "handoff", "c1",
                                                  f"Noa Cohen <{EMAIL}>")
    logging.getLogger("handoff.router").warning("customer said %r at %s", "call me on 050-1234567", "1773570600000-0")
    out = captured.getvalue()
    for secret in (PHONE, "972501234567", EMAIL, "noa.cohen", "050-1234567"):
        assert secret not in out, (secret, out)
    assert "whatsapp:+••••••••••67" in out and "n•••@example.com" in out and "•••-•••••67" in out
    assert "channel=whatsapp" in out and "message=m1 routed=bot" in out  # the rest of the line is intact
    assert "at 1773570600000-0" in out  # stream ids and timestamps stay


def test_handlers_added_later_are_covered(captured: io.StringIO) -> None:
    later = io.StringIO()
    logger = logging.getLogger("sanic.error")
    handler = logging.StreamHandler(later)
    logger.addHandler(handler)
    try:
        logger.error("request to %s", URL)
    finally:
        logger.removeHandler(handler)
    assert TOKEN not in later.getvalue() and f"bot{REDACTED}" in later.getvalue()


def test_installing_twice_changes_nothing(captured: io.StringIO) -> None:
    again = install_log_redaction(Settings(telegram_token=TOKEN))
    logging.getLogger("kesher.cli").info("token %s", TOKEN)
    assert captured.getvalue().count(REDACTED) == 1 and again is core.logs._installed


def test_a_served_part_redacts_its_own_log(tmp_path: pytest.TempPathFactory) -> None:
    """A served part (``python -m kesher serve PART``) installs the redaction: a line it writes shows no secret."""
    code = (
        "import logging, sys\n"
        "from core.settings import Settings\n"
        "from kesher import part, serve_models\n"
        "serve_models.create_app = lambda *a, **k: type('S', (), {'run': lambda self, **kw: "
        "logging.getLogger('httpx').warning('GET %s', 'https://api.telegram.org/bot' + "
        "Settings.from_env().telegram_token + '/getMe')})()\n"
        "sys.exit(part.run_part(serve_models.serve))\n"
    )
    # The Bot API on loopback (as the tests' stand-in): a real-looking token then implies no production mode.
    env = Settings(telegram_token=TOKEN, telegram_api_base="http://127.0.0.1:9/bot").child_env()
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "GET https://api.telegram.org/bot" in done.stderr and TOKEN not in done.stderr
