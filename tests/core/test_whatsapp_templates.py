"""Which WhatsApp template SIDs are used: the configured ones, the demo placeholders only outside production."""

from __future__ import annotations

from core.production import problems, whatsapp_template
from core.settings import Settings

REAL = "HX" + "7" * 32


def test_the_demo_placeholders_serve_the_demo_and_the_configured_sid_its_language() -> None:
    demo = Settings()
    assert whatsapp_template(demo, "late_order", "he") == demo.twilio_content_late_order_he
    assert whatsapp_template(demo.replace(twilio_content_agent_reply_en=REAL), "agent_reply", "en") == REAL
    assert whatsapp_template(demo, "no_such_template", "en") == ""


def test_production_ignores_the_placeholders_as_if_unset_and_does_not_refuse_to_start_for_them() -> None:
    production = Settings(mode="production", twilio_content_late_order_en=REAL)
    assert whatsapp_template(production, "late_order", "he") == ""
    assert whatsapp_template(production, "late_order", "en") == REAL
    assert whatsapp_template(production, "csat", "he") == ""  # the rating question then goes as numbered text
    assert not any("TWILIO_CONTENT" in line for line in problems(production))
