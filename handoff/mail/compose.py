"""Builds the customer e-mails of a handoff: the summary at handoff and the one at close.

Each mail is a ``multipart/alternative`` message (text/plain + text/html) in the
customer's language (Hebrew mails are right-to-left). Both parts are rendered
from one list of blocks, so they always say the same thing; every fragment goes
through :func:`~handoff.mail.masking.mask_sensitive` and, in the HTML part,
through ``html.escape``. The wording lives in ``texts.yml``.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

from bot.settings import Settings
from handoff.mail.masking import mask_sensitive
from handoff.models import Agent, Conversation

__all__ = [
    "LANGUAGES",
    "TEXTS_PATH",
    "closing_summary",
    "customer_address",
    "default_mail_id",
    "format_opening",
    "handoff_summary",
    "load_texts",
    "message_id",
    "text",
]

LANGUAGES = ("he", "en")
TEXTS_PATH = Path(__file__).resolve().parent / "texts.yml"
MAX_ASKED = 10  # the customer's last questions shown; older ones are in the agent's transcript
MAX_ITEM_CHARS = 500
KNOWN_REASONS = (
    "explicit_request",
    "consecutive_fallbacks",
    "complaint_frustration",
    "repeated_out_of_scope",
    "verification_failed",
)


@lru_cache(maxsize=4)
def load_texts(path: Path = TEXTS_PATH) -> Dict[str, Dict[str, Any]]:
    """Reads the wording file.

    Args:
        path: The YAML file (``handoff/mail/texts.yml`` by default).

    Returns:
        ``{key: {"he": ..., "en": ...}}``.

    Raises:
        ValueError: A key lacks one of the languages.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for key, value in data.items():
        if not isinstance(value, dict) or any(lang not in value for lang in LANGUAGES):
            raise ValueError(f"{path}: {key!r} needs a text for each of {LANGUAGES}")
    return data


def text(key: str, language: str, **values: Any) -> str:
    """One text of ``texts.yml`` in ``language``, with ``values`` filled in."""
    template = load_texts()[key][_lang(language)]
    return str(template).format(**values) if values else str(template)


def _lang(language: str) -> str:
    return language if language in LANGUAGES else "en"


_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\"]+$")


def customer_address(value: str) -> str:
    """The bare address in ``value`` (``a@b.c`` or ``Name <a@b.c>``), "" when it is not a usable one."""
    if not value or "\r" in value or "\n" in value:
        return ""
    address = parseaddr(value.strip())[1]
    return address if _ADDRESS.match(address) else ""


def default_mail_id(kind: str, conv: Conversation) -> str:
    """A stable id for one mail of one handoff (the outbox passes its job id instead)."""
    return hashlib.sha256(f"{kind}\0{conv.cid}\0{conv.reference}".encode()).hexdigest()[:24]


def message_id(mail_id: str, settings: Settings) -> str:
    """The ``Message-ID`` of a mail: the same for every (re)send of one mail id."""
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "kesher"
    return f"<{mail_id}@{domain}>"


def format_opening(when: datetime, language: str) -> str:
    """When the desk opens, as a customer reads it (``Sunday, 12 May at 08:00``)."""
    lang = _lang(language)
    return text(
        "opening_time",
        lang,
        weekday=load_texts()["weekdays"][lang][when.weekday()],
        day=when.day,
        month=when.month,
        month_name=load_texts()["month_names"][lang][when.month - 1],
        time=when.strftime("%H:%M"),
    )


@dataclass(frozen=True)
class _Block:
    """One piece of a mail: ``h`` heading, ``p`` paragraph, ``ul`` list, ``ref``, ``sig``, ``small``.

    ``user`` marks text someone typed (customer or agent): its direction is left
    to the client (``dir="auto"``), since an English question may sit in a Hebrew mail.
    """

    kind: str
    items: Tuple[str, ...]
    user: bool = False


def _clip(value: str) -> str:
    value = value.strip()
    return value if len(value) <= MAX_ITEM_CHARS else value[: MAX_ITEM_CHARS - 1] + "…"


def _render_text(blocks: Sequence[_Block]) -> str:
    parts: List[str] = []
    for block in blocks:
        if block.kind == "h":
            parts.append(f"{block.items[0]}\n{'-' * min(len(block.items[0]), 40)}")
        elif block.kind == "ul":
            parts.append("\n".join("- " + item.replace("\n", "\n  ") for item in block.items))
        elif block.kind == "small":
            parts.append("-- \n" + block.items[0])
        else:
            parts.append("\n".join(block.items))
    return "\n\n".join(parts) + "\n"


def _escape(value: str) -> str:
    return html.escape(value, quote=False).replace("\n", "<br>\n")


def _render_html(blocks: Sequence[_Block], language: str, subject: str) -> str:
    rtl = language == "he"
    direction, align, start = ("rtl", "right", "right") if rtl else ("ltr", "left", "left")
    body: List[str] = []
    for block in blocks:
        auto = ' dir="auto"' if block.user else ""
        if block.kind == "h":
            body.append(
                f'<h2 style="font-size:17px;margin:24px 0 8px;color:#0b4f6c;">{_escape(block.items[0])}</h2>'
            )
        elif block.kind == "ul":
            items = "".join(f'<li{auto} style="margin:0 0 6px;">{_escape(i)}</li>' for i in block.items)
            body.append(f'<ul style="margin:0 0 12px;padding-{start}:20px;">{items}</ul>')
        elif block.kind == "ref":
            body.append(
                f'<p style="margin:20px 0;padding:12px 16px;background:#eef6f9;'
                f'border-{start}:4px solid #0b4f6c;"><strong>{_escape(block.items[0])}</strong></p>'
            )
        elif block.kind == "small":
            body.append(
                f'<p style="margin:28px 0 0;font-size:12px;color:#6b7280;">{_escape(block.items[0])}</p>'
            )
        else:
            body.extend(f'<p{auto} style="margin:0 0 12px;">{_escape(item)}</p>' for item in block.items)
    return (
        "<!DOCTYPE html>\n"
        f'<html dir="{direction}" lang="{language}">\n'
        '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_escape(subject)}</title></head>\n"
        f'<body dir="{direction}" style="margin:0;padding:0;background:#f4f5f7;">\n'
        f'<div style="max-width:600px;margin:0 auto;padding:24px;background:#ffffff;color:#1f2933;'
        f"font-family:Arial,'Noto Sans Hebrew',sans-serif;font-size:15px;line-height:1.6;"
        f'direction:{direction};text-align:{align};">\n' + "\n".join(body) + "\n</div>\n</body>\n</html>\n"
    )


def _message(
    *,
    kind: str,
    conv: Conversation,
    settings: Settings,
    language: str,
    subject: str,
    blocks: Sequence[_Block],
    reply_to: Address | str,
    mail_id: Optional[str],
    now: Optional[float],
) -> EmailMessage:
    address = customer_address(conv.email)
    if not address:
        raise ValueError(f"conversation {conv.cid} has no usable e-mail address")
    # Everything a customer reads is masked, the static copy too: one rule, no exceptions to forget.
    masked = [
        _Block(b.kind, tuple(mask_sensitive(item, language) for item in b.items), b.user) for b in blocks
    ]
    subject = mask_sensitive(subject, language)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.mail_from
    msg["To"] = Address(display_name=" ".join(conv.customer_name.split()), addr_spec=address)
    msg["Reply-To"] = reply_to
    msg["Date"] = format_datetime(datetime.fromtimestamp(now, UTC) if now else datetime.now(UTC))
    msg["Message-ID"] = message_id(mail_id or default_mail_id(kind, conv), settings)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Kesher-Kind"] = kind
    msg["X-Kesher-Reference"] = mask_sensitive(conv.reference, language)
    # 7-bit transfer encodings pass any relay unchanged; base64 is the compact one for Hebrew.
    cte = "base64" if language == "he" else "quoted-printable"
    msg.set_content(mask_sensitive(_render_text(masked), language), cte=cte)
    msg.add_alternative(_render_html(masked, language, subject), subtype="html", cte=cte)
    msg["Content-Language"] = language  # after the parts: set_content drops Content-* headers
    return msg


def _greeting(conv: Conversation, language: str) -> _Block:
    name = conv.customer_name.strip()
    return _Block("p", (text("greeting_name", language, name=name) if name else text("greeting", language),))


def handoff_summary(
    conv: Conversation,
    settings: Settings,
    *,
    position: int,
    eta_minutes: int,
    after_hours: bool,
    next_opening: datetime | str | None,
    mail_id: Optional[str] = None,
    now: Optional[float] = None,
) -> EmailMessage:
    """The e-mail a customer gets when their conversation goes to a person.

    Args:
        conv: The conversation (``asked``, ``found``, ``reason``, ``reference``,
            ``email``, ``language``, ``customer_name`` are used).
        settings: ``mail_from`` is the sender and reply-to.
        position: Place in the queue (1 = next); 0 leaves it out.
        eta_minutes: Estimated wait; 0 when unknown.
        after_hours: Whether the desk is closed: the mail then says when it opens.
        next_opening: When the desk opens next, for after-hours mails: a local
            datetime, or a text already written in the customer's language.
        mail_id: Id for the ``Message-ID`` (the outbox job id); derived from the
            conversation and its reference when None.
        now: Epoch seconds for the ``Date`` header; the current time when None.

    Returns:
        A multipart/alternative message, masked and escaped, ready to send.

    Raises:
        ValueError: The conversation has no e-mail address.
    """
    lang = _lang(conv.language)
    subject_key = "handoff_subject_after_hours" if after_hours else "handoff_subject"
    subject = text(subject_key, lang, reference=conv.reference)
    blocks: List[_Block] = [_greeting(conv, lang), _Block("p", (text("handoff_intro", lang),))]
    asked = [_clip(q) for q in conv.asked if q.strip()][-MAX_ASKED:]
    if asked:
        blocks += [_Block("h", (text("handoff_asked_heading", lang),)), _Block("ul", tuple(asked), user=True)]
    found = [_clip(f) for f in conv.found if f.strip()]
    blocks.append(_Block("h", (text("handoff_found_heading", lang),)))
    blocks.append(_Block("ul", tuple(found)) if found else _Block("p", (text("handoff_found_nothing", lang),)))
    reason = conv.reason if conv.reason in KNOWN_REASONS else "generic"
    blocks += [
        _Block("h", (text("handoff_why_heading", lang),)),
        _Block("p", (text(f"reason_{reason}", lang),)),
        _Block("h", (text("handoff_next_heading", lang),)),
    ]
    if after_hours:
        opening = format_opening(next_opening, lang) if isinstance(next_opening, datetime) else (next_opening or "")
        if opening.strip():
            blocks.append(_Block("p", (text("next_after_hours", lang, opening=opening),)))
        else:
            blocks.append(_Block("p", (text("next_after_hours_unknown", lang),)))
    else:
        lines = [text("next_in_hours", lang)]
        if position > 0 and eta_minutes > 0:
            wait = (
                text("wait_one_minute", lang) if eta_minutes == 1 else text("wait_minutes", lang, minutes=eta_minutes)
            )
            lines.append(text("next_position_eta", lang, position=position, wait=wait))
        elif position > 0:
            lines.append(text("next_position", lang, position=position))
        blocks.append(_Block("p", (" ".join(lines),)))
    blocks += [
        _Block("ref", (text("reference_line", lang, reference=conv.reference),)),
        _Block("sig", (text("team_signature", lang),)),
        _Block("small", (text("footer", lang),)),
    ]
    return _message(
        kind="handoff",
        conv=conv,
        settings=settings,
        language=lang,
        subject=subject,
        blocks=blocks,
        reply_to=settings.mail_from,
        mail_id=mail_id,
        now=now,
    )


def closing_summary(
    conv: Conversation,
    settings: Settings,
    agent: Agent,
    *,
    mail_id: Optional[str] = None,
    now: Optional[float] = None,
) -> EmailMessage:
    """The e-mail a customer gets when an agent closes the conversation.

    Args:
        conv: The closed conversation (``summary``, ``next_steps``, ``resolution``,
            ``reference``, ``email``, ``language``, ``customer_name`` are used).
        settings: ``mail_from`` is the sender, and the reply-to when the agent has no address.
        agent: Who closed it: their full name signs the mail, their address takes replies.
        mail_id: Id for the ``Message-ID``; derived from the conversation when None.
        now: Epoch seconds for the ``Date`` header; the current time when None.

    Returns:
        A multipart/alternative message, masked and escaped, ready to send.

    Raises:
        ValueError: The conversation has no e-mail address.
    """
    lang = _lang(conv.language)
    full_name = agent.name.strip() or agent.agent_id
    subject = text("closing_subject", lang, agent=agent.first_name, reference=conv.reference)
    blocks: List[_Block] = [
        _greeting(conv, lang),
        _Block("p", (text("closing_intro", lang, agent=full_name),)),
        _Block("h", (text("closing_done_heading", lang),)),
    ]
    if conv.summary.strip():
        blocks.append(_Block("p", (conv.summary.strip(),), user=True))
    else:
        blocks.append(_Block("p", (text("closing_done_none", lang, agent=full_name),)))
    resolution = f"resolution_{conv.resolution}"
    blocks += [
        _Block("h", (text("closing_resolution_heading", lang),)),
        _Block("p", (text(resolution if resolution in load_texts() else "resolution_generic", lang),)),
        _Block("h", (text("closing_next_heading", lang),)),
    ]
    if conv.next_steps.strip():
        blocks.append(_Block("p", (conv.next_steps.strip(),), user=True))
    else:
        blocks.append(_Block("p", (text("closing_next_none", lang),)))
    reply_line = (
        text("closing_reply_agent", lang, agent=full_name)
        if customer_address(agent.email)
        else text("closing_reply_team", lang)
    )
    blocks += [
        _Block("p", (reply_line,)),
        _Block("ref", (text("reference_line", lang, reference=conv.reference),)),
        _Block("sig", (text("agent_signature", lang, agent=full_name),)),
        _Block("small", (text("footer", lang),)),
    ]
    agent_address = customer_address(agent.email)
    reply_to: Address | str = (
        Address(display_name=full_name, addr_spec=agent_address) if agent_address else settings.mail_from
    )
    return _message(
        kind="closing",
        conv=conv,
        settings=settings,
        language=lang,
        subject=subject,
        blocks=blocks,
        reply_to=reply_to,
        mail_id=mail_id,
        now=now,
    )
