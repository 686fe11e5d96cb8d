"""The one markup in e-mails: plain words in the text part, <strong> and safe links in the HTML part."""

from __future__ import annotations

from email.message import EmailMessage

from core.settings import Settings
from handoff.mail.compose import handoff_summary
from handoff.models import Conversation
from tests.helpers.texts import catalog

SETTINGS = Settings(mail_from="Kesher Support <support@kesher.example>")


def _parts(msg: EmailMessage) -> tuple[str, str]:
    plain, rich = msg.get_body(("plain",)), msg.get_body(("html",))
    assert isinstance(plain, EmailMessage) and isinstance(rich, EmailMessage)
    return plain.get_content(), rich.get_content()


def test_markup_is_plain_in_the_text_part_and_bold_and_links_in_html() -> None:
    conv = Conversation(
        cid="c1", language="he", reason="explicit_request", reference="K-3F9A1C", customer_name="נועה",
        email="noa@example.com", asked=["[click](javascript:alert(1)) <script>x</script>"],
        found=["הזמנה 123456: **בדרך** — [מעקב](https://shop.example.com/he/track)"])
    plain, rich = _parts(handoff_summary(conv, SETTINGS, catalog(), position=1, eta_minutes=3, after_hours=False,
                                         next_opening=None))
    assert "- הזמנה 123456: בדרך — מעקב (https://shop.example.com/he/track)" in plain
    assert "**" not in plain
    assert ('הזמנה 123456: <strong>בדרך</strong> — <a href="https://shop.example.com/he/track" '
            'rel="noopener noreferrer" target="_blank">מעקב</a>') in rich
    assert "[click](javascript:alert(1)) &lt;script&gt;x&lt;/script&gt;" in rich and "<script>" not in rich
    assert 'href="javascript' not in rich
    # The team's signature names the shop, in Hebrew, from the catalog's one brand.
    assert "צוות שירות הלקוחות של חנות קשר" in plain
