"""The console's mail pages: stored e-mails listed, HTML shown only in a sandboxed frame."""

from __future__ import annotations

import time
from email.message import EmailMessage

import httpx
from redis.asyncio import Redis

from handoff.mail.smtpd import save_message
from tests.console.conftest import Service, login

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
