"""The console's mail pages: stored e-mails listed, HTML shown only in a sandboxed frame, to supervisors only,
and only while mail goes to the local SMTP server."""

from __future__ import annotations

import time
from email.message import EmailMessage
from pathlib import Path

import httpx
from redis.asyncio import Redis

from handoff.mail.smtpd import save_message
from tests.console.conftest import Service, login
from tests.helpers.console_app import running_console
from tests.helpers.redis_server import RedisServer

EVIL_HTML = (
    '<html dir="rtl"><body><h1>סיכום הפנייה</h1><p style="color:red">שלום נועה</p>'
    '<script>parent.document.title="pwned"</script><img src=x onerror="alert(1)"></body></html>'
)


def _store_mail(service: Service) -> str:
    message = EmailMessage()
    message["From"] = "Kesher <support@kesher.example>"
    message["To"] = "noa@example.com"
    message["Subject"] = "סיכום הפנייה שלך K-ABC123"
    message["Content-Language"] = "he"
    message["Message-ID"] = f"<test-{time.time_ns()}@kesher.example>"
    message.set_content("שלום נועה,\nהנה סיכום הפנייה שלך.")
    message.add_alternative(EVIL_HTML, subtype="html")
    path = save_message(service.mail_dir, message.as_bytes(), time.time())
    return path.name


async def test_mail_list_and_view(console_service: Service, http: httpx.AsyncClient, redis_client: Redis):
    name = _store_mail(console_service)
    await login(http, "dana")
    listing = await http.get("/console/mail")
    assert listing.status_code == 200
    assert "סיכום הפנייה שלך K-ABC123" in listing.text
    assert f'href="/console/mail/{name}"' in listing.text

    view = await http.get(f"/console/mail/{name}")
    assert view.status_code == 200
    assert "<script>parent" not in view.text  # the HTML part is never inlined
    assert f'src="/console/mail/{name}/body"' in view.text
    assert "sandbox" in view.text
    assert "הנה סיכום הפנייה שלך." in view.text

    body = await http.get(f"/console/mail/{name}/body")
    assert body.status_code == 200
    csp = body.headers["content-security-policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp and "script-src" not in csp
    assert body.headers["x-frame-options"] == "SAMEORIGIN"


async def test_mail_names_are_checked(console_service: Service, http: httpx.AsyncClient, redis_client: Redis):
    await login(http, "dana")
    assert (await http.get("/console/mail/..%2F..%2Fetc%2Fpasswd")).status_code == 400  # not a mail file name
    assert (await http.get("/console/mail/nothing-here.eml")).status_code == 404
    assert (await http.get("/console/mail/not-an-eml.txt")).status_code == 400


async def test_only_supervisors_read_customer_mail(console_service: Service, http: httpx.AsyncClient,
                                                  redis_client: Redis):
    name = _store_mail(console_service)
    await login(http, "omer")  # an agent: a customer's e-mail is not theirs to read
    for path in ("/console/mail", f"/console/mail/{name}", f"/console/mail/{name}/body"):
        refused = await http.get(path)
        assert refused.status_code == 403, path
        assert "סיכום הפנייה" not in refused.text and "נועה" not in refused.text
    desk = await http.get("/console")
    assert 'href="/console/mail"' not in desk.text  # and the desk does not offer it


async def test_the_mailbox_is_off_with_a_real_mail_server(redis_server: RedisServer, redis_client: Redis,
                                                          tmp_path: Path):
    async with running_console(redis_server, tmp_path, smtp_host="smtp.example.com") as console:
        mail_dir = console.settings.mail_dir
        mail_dir.mkdir(parents=True, exist_ok=True)
        message = EmailMessage()
        message["Subject"] = "K-REAL01"
        message["To"] = "noa@example.com"
        message.set_content("hello")
        name = save_message(mail_dir, message.as_bytes(), time.time()).name
        async with httpx.AsyncClient(base_url=console.base_url, timeout=30) as supervisor:
            await login(supervisor, "dana")
            for path in ("/console/mail", f"/console/mail/{name}"):
                page = await supervisor.get(path)
                assert page.status_code == 404, path
                assert "K-REAL01" not in page.text
