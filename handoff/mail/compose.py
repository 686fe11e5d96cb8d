"""Builds the customer e-mails of a handoff: the summary at handoff, the one at close, and the code mail.

The summaries go to the conversation's ``email``, which holds a verified address
only (an order's own, or one proved by a code): a typed address is never sent
anything but the one-time code mail, which carries no customer data.

Each mail is a ``multipart/alternative`` message (text/plain + text/html) in the
customer's language (Hebrew mails are right-to-left). Both parts are rendered
from one list of blocks, so they always say the same thing; every fragment goes
through :func:`~handoff.mail.masking.mask_sensitive` and, in the HTML part,
through ``html.escape``. The wording is the text catalog's ``mail_*`` entries (``data/texts/mail.yml``).
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime, parseaddr
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from babel.dates import format_date
from babel.numbers import format_currency

from core.bidi import isolate, rtl_lines
from core.language import LOCALES, Language, as_language
from core.markup import to_html, to_plain
from core.settings import Settings
from core.texts import TextCatalog
from handoff.agent_actions import AgentActionKind, AgentActionRecord
from handoff.mail.masking import mask_sensitive
from handoff.models import Agent, Conversation
from handoff.notices import unsubscribe_url

__all__ = [
    "agent_action_line",
    "closing_summary",
    "code_mail",
    "customer_address",
    "default_mail_id",
    "format_opening",
    "handoff_summary",
    "late_notice_mail",
    "message_id",
    "order_change_mail",
]

MAX_ASKED = 10  # the customer's last questions shown; older ones are in the agent's transcript
MAX_ITEM_CHARS = 500
KNOWN_REASONS = (
    "explicit_request",
    "consecutive_fallbacks",
    "complaint_frustration",
    "repeated_out_of_scope",
    "verification_failed",
)


# Resolution codes that claim something was done to an order: the closing e-mail says so only when the
# audit of this chat shows one of these actions; an empty tuple is a claim nothing in Kesher backs (no agent
# action sends a replacement or refunds a card), so its line is never said and the generic one stands.
# "refund_issued" is no longer offered (handoff/policy.yml); chats closed with it before say the generic line.
ACTION_CLAIMS: Dict[str, Tuple[AgentActionKind, ...]] = {
    "order_changed": (AgentActionKind.CANCEL_ORDER, AgentActionKind.CHANGE_ADDRESS),
    "replacement_sent": (),
    "refund_issued": (),
}

Say = Callable[..., str]
_OPENING_DATE = {"he": "d.MM", "en": "d MMMM"}


def _wording(texts: TextCatalog, language: Language) -> Say:
    """The catalog's ``mail_*`` texts in one language: ``say("greeting")``."""

    def say(key: str, **values: Any) -> str:
        return texts.text(f"mail_{key}", language, **values)

    return say


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


def format_opening(when: datetime, language: str, texts: TextCatalog) -> str:
    """When the desk opens, as a customer reads it (``Sunday, 12 May at 08:00``)."""
    lang = as_language(language)
    locale = LOCALES[lang]
    return texts.text(
        "mail_opening_time",
        lang,
        weekday=format_date(when, "EEEE", locale=locale),
        date=format_date(when, _OPENING_DATE[lang], locale=locale),
        time=when.strftime("%H:%M"),
    )


@dataclass(frozen=True)
class _Block:
    """One piece of a mail: ``h`` heading, ``p`` paragraph, ``ul`` list, ``ref``, ``sig``, ``small``, ``unsub``.

    ``unsub`` is the unsubscribe line: ``(sentence, link words, address)``; its address is a
    signed link, never masked (a run of its hex digits may look like an ID number).

    ``user`` marks text someone typed (customer or agent): it is isolated
    (``<bdi>`` in HTML, FSI … PDI in the text part), so an English question in a
    Hebrew mail keeps its own direction while the line, and its bullet, keep the mail's.
    """

    kind: str
    items: Tuple[str, ...]
    user: bool = False


def _clip(value: str) -> str:
    value = value.strip()
    return value if len(value) <= MAX_ITEM_CHARS else value[: MAX_ITEM_CHARS - 1] + "…"


def _render_text(blocks: Sequence[_Block], language: str) -> str:
    """The text part: the markup (``**bold**``, ``[words](address)``) as plain text, what people typed isolated."""
    blocks = [_Block(b.kind, tuple(to_plain(i) for i in b.items), b.user) for b in blocks]
    parts: List[str] = []
    blocks = [_Block(b.kind, tuple(isolate(i) for i in b.items), b.user) if b.user else b for b in blocks]
    for block in blocks:
        if block.kind == "h":
            parts.append(f"{block.items[0]}\n{'-' * min(len(block.items[0]), 40)}")
        elif block.kind == "ul":
            parts.append("\n".join("- " + item.replace("\n", "\n  ") for item in block.items))
        elif block.kind == "small":
            parts.append("-- \n" + block.items[0])
        elif block.kind == "unsub":
            continue  # added after the text is masked (_unsubscribe_text)
        else:
            parts.append("\n".join(block.items))
    text = "\n\n".join(parts) + "\n"
    # A plain-text reader guesses each line's direction from its first letter: a right-to-left
    # mark first keeps a Hebrew mail's lines right to left even when one starts with a name or a code.
    return rtl_lines(text) if language == "he" else text


def _unsubscribe_text(blocks: Sequence[_Block], language: str) -> str:
    """The unsubscribe line of the text part, or "".

    The link stands on a line of its own with no direction mark (a mark before it would be copied with it).
    """
    text = ""
    for block in blocks:
        if block.kind == "unsub":
            words = f"-- \n{block.items[0]} {block.items[1]}:"
            text += f"\n{rtl_lines(words) if language == 'he' else words}\n{block.items[2]}\n"
    return text


def _escape(value: str) -> str:
    return html.escape(value, quote=False).replace("\n", "<br>\n")


def _item(value: str, typed: bool) -> str:
    """An item of a block as HTML, escaped.

    What someone typed sits in its own ``<bdi>`` (its direction, not the line's); the catalog's
    texts get their markup as ``<strong>`` and links (core/markup.py).
    """
    return f"<bdi>{_escape(value)}</bdi>" if typed else to_html(value).replace("\n", "<br>\n")


def _render_html(blocks: Sequence[_Block], language: str, subject: str) -> str:
    rtl = language == "he"
    direction, align, start = ("rtl", "right", "right") if rtl else ("ltr", "left", "left")
    body: List[str] = []
    for block in blocks:
        if block.kind == "h":
            body.append(
                f'<h2 style="font-size:17px;margin:24px 0 8px;color:#0b4f6c;">{_escape(block.items[0])}</h2>'
            )
        elif block.kind == "ul":
            items = "".join(f'<li style="margin:0 0 6px;">{_item(i, block.user)}</li>' for i in block.items)
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
        elif block.kind == "unsub":
            sentence, words, url = block.items
            body.append(
                f'<p style="margin:12px 0 0;font-size:12px;color:#6b7280;">{_escape(sentence)} '
                f'<a href="{html.escape(url, quote=True)}" rel="noopener noreferrer" target="_blank" '
                f'style="color:#0b4f6c;">{_escape(words)}</a></p>'
            )
        elif block.kind == "code":
            body.append(
                '<p dir="ltr" style="margin:20px 0;font-size:28px;letter-spacing:6px;font-family:monospace;'
                f'text-align:center;"><strong>{_escape(block.items[0])}</strong></p>'
            )
        else:
            body.extend(f'<p style="margin:0 0 12px;">{_item(item, block.user)}</p>' for item in block.items)
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
    to: Optional[str] = None,
) -> EmailMessage:
    # Summaries go to the verified address only; ``to`` is the typed address of a code mail.
    address = customer_address(conv.email if to is None else to)
    if not address:
        raise ValueError(f"conversation {conv.cid} has no usable e-mail address")
    display_name = " ".join(conv.customer_name.split()) if to is None else ""
    # Everything a customer reads is masked, the static copy too: one rule, no exceptions to forget.
    masked = [
        _Block(b.kind, tuple(mask_sensitive(item, language) if b.kind != "unsub" or i < 2 else item
                             for i, item in enumerate(b.items)), b.user)
        for b in blocks
    ]
    subject = mask_sensitive(subject, language)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.mail_from
    msg["To"] = Address(display_name=display_name, addr_spec=address)
    msg["Reply-To"] = reply_to
    msg["Date"] = format_datetime(datetime.fromtimestamp(now, UTC) if now else datetime.now(UTC))
    msg["Message-ID"] = message_id(mail_id or default_mail_id(kind, conv), settings)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Kesher-Kind"] = kind
    if to is None:  # a code mail says nothing about the conversation
        msg["X-Kesher-Reference"] = mask_sensitive(conv.reference, language)
    # 7-bit transfer encodings pass any relay unchanged; base64 is the compact one for Hebrew.
    cte = "base64" if language == "he" else "quoted-printable"
    for block in blocks:
        if block.kind == "unsub":  # RFC 2369 and RFC 8058: the mail client's own "unsubscribe", one POST
            msg["List-Unsubscribe"] = _Unfolded("List-Unsubscribe", f"<{block.items[2]}>")
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    text = mask_sensitive(_render_text(masked, language), language) + _unsubscribe_text(masked, language)
    msg.set_content(text, cte=cte)
    msg.add_alternative(_render_html(masked, language, subject), subtype="html", cte=cte)
    msg["Content-Language"] = language  # after the parts: set_content drops Content-* headers
    return msg


class _Unfolded(str):
    """A header value sent on one line as written, never folded nor encoded.

    The unsubscribe link (~180 characters, no spaces) is longer than the 78 that the SMTP policy folds at,
    and a value it cannot fold becomes RFC 2047 encoded words (``=?utf-8?q?=3Chttps...``), which mail
    clients do not read as the ``<URL>`` of RFC 2369 / RFC 8058. RFC 5322 allows lines up to 998 characters.
    """

    def __new__(cls, name: str, value: str) -> _Unfolded:
        if len(name) + len(value) + 2 > 998 or any(c in value for c in "\r\n") or not value.isascii():
            raise ValueError(f"{name} cannot be sent unfolded: {value[:80]!r}")
        header = super().__new__(cls, value)
        header.name = name
        return header

    name: str

    def fold(self, *, policy: Policy) -> str:
        """The header's line, whatever the policy's line length (the email package calls this)."""
        return f"{self.name}: {self}{policy.linesep}"


def _greeting(conv: Conversation, say: Say) -> _Block:
    name = conv.customer_name.strip()
    return _Block("p", (say("greeting_name", name=name) if name else say("greeting"),))


def _asked(conv: Conversation, say: Say) -> List[_Block]:
    """"What you asked": the customer's own questions of this conversation (the last few), if any."""
    asked = [_clip(q) for q in conv.asked if q.strip()][-MAX_ASKED:]
    return [_Block("h", (say("handoff_asked_heading"),)), _Block("ul", tuple(asked), user=True)] if asked else []


def handoff_summary(
    conv: Conversation,
    settings: Settings,
    texts: TextCatalog,
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
        texts: The wording (the catalog's ``mail_*`` texts).
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
    lang = as_language(conv.language)
    say = _wording(texts, lang)
    subject_key = "handoff_subject_after_hours" if after_hours else "handoff_subject"
    subject = say(subject_key, reference=conv.reference)
    blocks: List[_Block] = [_greeting(conv, say), _Block("p", (say("handoff_intro"),)), *_asked(conv, say)]
    found = [_clip(f) for f in conv.found if f.strip()]
    blocks.append(_Block("h", (say("handoff_found_heading"),)))
    blocks.append(_Block("ul", tuple(found)) if found else _Block("p", (say("handoff_found_nothing"),)))
    reason = conv.reason if conv.reason in KNOWN_REASONS else "generic"
    blocks += [
        _Block("h", (say("handoff_why_heading"),)),
        _Block("p", (say(f"reason_{reason}"),)),
        _Block("h", (say("handoff_next_heading"),)),
    ]
    if after_hours:
        opening = (format_opening(next_opening, lang, texts) if isinstance(next_opening, datetime)
                   else (next_opening or ""))
        if opening.strip():
            blocks.append(_Block("p", (say("next_after_hours", opening=opening),)))
        else:
            blocks.append(_Block("p", (say("next_after_hours_unknown"),)))
    else:
        lines = [say("next_in_hours")]
        if position > 0 and eta_minutes > 0:
            wait = say("wait", minutes=eta_minutes)
            lines.append(say("next_position_eta", position=position, wait=wait))
        elif position > 0:
            lines.append(say("next_position", position=position))
        blocks.append(_Block("p", (" ".join(lines),)))
    blocks += [
        _Block("ref", (say("reference_line", reference=conv.reference),)),
        _Block("sig", (say("team_signature"),)),
        _Block("small", (say("footer"),)),
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


def _action_line(record: AgentActionRecord, language: Language, say: Say) -> str:
    """What one agent action did, as the customer reads it."""
    if record.kind is AgentActionKind.STORE_CREDIT:
        try:
            amount = format_currency(Decimal(record.amount), record.currency, locale=LOCALES[language])
        except (InvalidOperation, ValueError):
            amount = f"{record.amount} {record.currency}"
        return say("action_store_credit", order=record.order_id, amount=amount, code=record.code)
    return say(f"action_{record.kind.value}", order=record.order_id, address=record.address)


def agent_action_line(record: AgentActionRecord, language: str, texts: TextCatalog) -> str:
    """What one agent action did, as the customer reads it in ``language`` (the closing e-mail's line).

    The confirmation e-mail an agent's action sends at once says the same (``actions.orders.agent_service``).
    """
    lang = as_language(language)
    return _action_line(record, lang, _wording(texts, lang))


def _resolution_line(conv: Conversation, actions: Sequence[AgentActionRecord], texts: TextCatalog, say: Say) -> str:
    """The outcome sentence: the resolution code's, unless it claims an action this chat's audit does not show."""
    backing = ACTION_CLAIMS.get(conv.resolution)
    if backing is not None and not any(a.kind in backing for a in actions):
        return say("resolution_generic")
    key = f"resolution_{conv.resolution}"
    return say(key if f"mail_{key}" in texts else "resolution_generic")


def closing_summary(
    conv: Conversation,
    settings: Settings,
    texts: TextCatalog,
    agent: Agent,
    *,
    actions: Sequence[AgentActionRecord] = (),
    mail_id: Optional[str] = None,
    now: Optional[float] = None,
) -> EmailMessage:
    """The e-mail a customer gets when an agent closes the conversation.

    Args:
        conv: The closed conversation (``asked``, ``summary``, ``next_steps``, ``resolution``,
            ``reference``, ``email``, ``language``, ``customer_name`` are used).
        settings: ``mail_from`` is the sender, and the reply-to when the agent has no address.
        texts: The wording (the catalog's ``mail_*`` texts).
        agent: Who closed it: their full name signs the mail, their address takes replies.
        actions: What agents did to the customer's orders in this handoff (the audit): listed one by one,
            and a resolution code that claims a change nobody made is not repeated to the customer.
        mail_id: Id for the ``Message-ID``; derived from the conversation when None.
        now: Epoch seconds for the ``Date`` header; the current time when None.

    Returns:
        A multipart/alternative message, masked and escaped, ready to send.

    Raises:
        ValueError: The conversation has no e-mail address.
    """
    lang = as_language(conv.language)
    say = _wording(texts, lang)
    full_name = agent.name.strip() or agent.agent_id
    subject = say("closing_subject", agent=agent.display_name(lang), reference=conv.reference)
    blocks: List[_Block] = [
        _greeting(conv, say),
        _Block("p", (say("closing_intro", agent=full_name),)),
        *_asked(conv, say),  # so the mail stands on its own weeks later
        _Block("h", (say("closing_done_heading"),)),
    ]
    if conv.summary.strip():
        blocks.append(_Block("p", (conv.summary.strip(),), user=True))
    else:
        blocks.append(_Block("p", (say("closing_done_none", agent=full_name),)))
    if actions:
        blocks += [
            _Block("h", (say("closing_actions_heading"),)),
            _Block("ul", tuple(_action_line(a, lang, say) for a in actions)),
        ]
    blocks += [
        _Block("h", (say("closing_resolution_heading"),)),
        _Block("p", (_resolution_line(conv, actions, texts, say),)),
        _Block("h", (say("closing_next_heading"),)),
    ]
    if conv.next_steps.strip():
        blocks.append(_Block("p", (conv.next_steps.strip(),), user=True))
    else:
        blocks.append(_Block("p", (say("closing_next_none"),)))
    reply_line = (
        say("closing_reply_agent", agent=full_name)
        if customer_address(agent.email)
        else say("closing_reply_team")
    )
    blocks += [
        _Block("p", (reply_line,)),
        _Block("ref", (say("reference_line", reference=conv.reference),)),
        _Block("sig", (say("agent_signature", agent=full_name),)),
        _Block("small", (say("footer"),)),
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


def code_mail(
    conv: Conversation,
    settings: Settings,
    texts: TextCatalog,
    *,
    to: str,
    code: str,
    minutes: int,
    mail_id: Optional[str] = None,
    now: Optional[float] = None,
) -> EmailMessage:
    """The one-time code mailed to an address a customer typed, to prove it is theirs.

    It goes to an address nobody has proved yet, so it says nothing about the customer
    or their conversation: no name, no questions, no orders, no reference.

    Args:
        conv: The conversation (only ``language`` and ``cid`` are used).
        settings: ``mail_from`` is the sender and reply-to.
        texts: The wording (``mail_code_*``).
        to: The typed address.
        code: The six digits.
        minutes: How long the code is valid.
        mail_id: Id for the ``Message-ID`` (the outbox job id).
        now: Epoch seconds for the ``Date`` header; the current time when None.

    Raises:
        ValueError: ``to`` is not a usable address.
    """
    lang = as_language(conv.language)
    say = _wording(texts, lang)
    subject = say("code_subject")
    blocks: List[_Block] = [
        _Block("p", (say("greeting"),)),
        _Block("p", (say("code_intro"),)),
        _Block("code", (code,)),
        _Block("p", (say("code_expiry", minutes=minutes),)),
        _Block("sig", (say("team_signature"),)),
        _Block("small", (say("code_footer"),)),
    ]
    return _message(
        kind="code",
        conv=conv,
        settings=settings,
        language=lang,
        subject=subject,
        blocks=blocks,
        reply_to=settings.mail_from,
        mail_id=mail_id,
        now=now,
        to=to,
    )


# -- order mails (#17): a change confirmed, a late order -----------------------------------------
ORDER_CHANGES = ("cancelled", "address_changed", "return_requested")


def _order_conversation(cid: str, order: Any, language: str) -> Conversation:
    """What :func:`_message` needs, from an order: its e-mail, its name, its number as the reference."""
    return Conversation(cid=cid, email=str(order.email), customer_name=str(order.customer_name),
                        language=language, reference=str(order.order_id))


def order_change_mail(
    order: Any,
    change: str,
    settings: Settings,
    texts: TextCatalog,
    *,
    language: str,
    details: Mapping[str, Any],
    cid: str = "",
    mail_id: Optional[str] = None,
    now: Optional[float] = None,
) -> EmailMessage:
    """The e-mail confirming a change made to an order, to the order's own address.

    Args:
        order: The order as it is now (``actions.orders.domain.Order``: ``order_id``, ``email``,
            ``customer_name``, ``shipping_address`` are used).
        change: ``cancelled``, ``address_changed``, ``return_requested``; any other change is
            described by ``details["summary"]`` (a text already in the customer's language).
        settings: ``mail_from`` is the sender and reply-to.
        texts: The wording (``mail_order_*``).
        language: The customer's language.
        details: What the text names: ``total`` (cancelled), ``rma`` and ``deadline`` (return),
            ``summary`` (other changes); the address is the order's own.
        cid: The conversation the change was made in ("" if none).
        mail_id: Id for the ``Message-ID`` (the outbox job id).
        now: Epoch seconds for the ``Date`` header.

    Raises:
        ValueError: The order has no usable e-mail address.
    """
    lang = as_language(language)
    say = _wording(texts, lang)
    conv = _order_conversation(cid or f"order:{order.order_id}", order, lang)
    values: Dict[str, Any] = {"order_id": order.order_id, "address": order.shipping_address,
                              "total": "", "rma": "", "deadline": "", "summary": ""}
    values.update({k: str(v) for k, v in details.items() if k in values and k != "order_id"})
    key = f"order_{change}" if change in ORDER_CHANGES else "order_changed"
    blocks: List[_Block] = [
        _greeting(conv, say),
        _Block("p", (say(f"{key}_body", **values),), user=key == "order_changed"),
        _Block("p", (say("order_questions"),)),
        _Block("ref", (say("order_line", order_id=order.order_id),)),
        _Block("sig", (say("team_signature"),)),
        _Block("small", (say("footer"),)),
    ]
    return _message(kind=f"order_{change}", conv=conv, settings=settings, language=lang,
                    subject=say(f"{key}_subject", order_id=order.order_id), blocks=blocks,
                    reply_to=settings.mail_from, mail_id=mail_id, now=now)


def late_notice_mail(
    order: Any,
    settings: Settings,
    texts: TextCatalog,
    *,
    language: str,
    estimate: str,
    cid: str = "",
    mail_id: Optional[str] = None,
    now: Optional[float] = None,
) -> EmailMessage:
    """The e-mail telling a customer, unasked, that their order is late, with the new estimate.

    Args:
        order: The order (``order_id``, ``email``, ``customer_name``).
        settings: ``mail_from`` is the sender and reply-to (a reply reaches a person).
        texts: The wording (``mail_late_*``).
        language: The customer's language.
        estimate: The new estimate as the customer reads it ("" when there is none yet).
        cid: The customer's conversation ("" if none).
        mail_id: Id for the ``Message-ID`` (the outbox job id).
        now: Epoch seconds for the ``Date`` header.

    With ``KESHER_PUBLIC_URL`` set the mail ends with the address's personal unsubscribe link
    (:func:`handoff.notices.unsubscribe_url`) and carries it in ``List-Unsubscribe`` with RFC 8058's
    ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``; without one it says to reply to opt out.

    Raises:
        ValueError: The order has no usable e-mail address.
    """
    lang = as_language(language)
    say = _wording(texts, lang)
    conv = _order_conversation(cid or f"order:{order.order_id}", order, lang)
    address = customer_address(str(order.email))
    link = unsubscribe_url(settings, address, lang) if address else ""
    optout = (_Block("unsub", (say("late_unsubscribe"), say("late_unsubscribe_link"), link)) if link
              else _Block("small", (say("late_optout"),)))
    body = (say("late_body", order_id=order.order_id, estimate=estimate) if estimate
            else say("late_body_no_estimate", order_id=order.order_id))
    blocks: List[_Block] = [
        _greeting(conv, say),
        _Block("p", (body,)),
        _Block("p", (say("late_person"),)),
        _Block("ref", (say("order_line", order_id=order.order_id),)),
        _Block("sig", (say("team_signature"),)),
        optout,
    ]
    return _message(kind="late_notice", conv=conv, settings=settings, language=lang,
                    subject=say("late_subject", order_id=order.order_id), blocks=blocks,
                    reply_to=settings.mail_from, mail_id=mail_id, now=now)
