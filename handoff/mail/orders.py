"""Confirms by e-mail every change made to an order, whoever made it (the bot, an agent).

:meth:`OrderMail.confirm_change` queues one ``order_change`` job on the mail outbox,
at most once per change. The mail worker reads the order again before sending:
it goes to the order's own e-mail address (verified by the order itself), in the
customer's language, and only while the order is still as the mail says (a
cancellation still cancelled, the address still the one confirmed); see
``MailWorker._why_not_order``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, Optional, Protocol

__all__ = ["OrderMail"]


class _Outbox(Protocol):
    async def enqueue(self, kind: str, cid: str, dedup_key: str, **params: Any) -> bool: ...


class OrderMail:
    """The confirmation e-mail of an order change (a reusable service: the bot's actions, agents' actions)."""

    def __init__(self, outbox: _Outbox) -> None:
        """Keeps the outbox (``handoff.mail.outbox.MailOutbox``)."""
        self.outbox = outbox

    async def confirm_change(
        self,
        order_id: str,
        change: str,
        *,
        language: str,
        cid: str = "",
        address: str = "",
        details: Optional[Mapping[str, Any]] = None,
        key: str = "",
    ) -> bool:
        """Queues the e-mail confirming one change of an order, once.

        Args:
            order_id: The order.
            change: ``cancelled``, ``address_changed`` or ``return_requested`` (their own wording), or
                any other name with ``details["summary"]``, a text in the customer's language saying
                what was done (e.g. an agent's store credit).
            language: The customer's language (``he`` or ``en``).
            cid: The conversation the change was made in ("" if none): the event log's row names it.
            address: For ``address_changed``: the new address (the mail is dropped if it changed again).
            details: What the wording names: ``total`` (cancelled), ``rma`` and ``deadline`` (return),
                ``summary`` (other changes); formatted for the customer already.
            key: Tells two changes of the same kind to one order apart (default: a digest of the
                address and details, so a retried action queues nothing new).

        Returns:
            True if queued now, False if this change was confirmed before.
        """
        values = {str(k): str(v) for k, v in (details or {}).items()}
        if not key:
            blob = json.dumps([address, sorted(values.items())], ensure_ascii=False)
            key = hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
        return await self.outbox.enqueue(
            "order_change", cid or f"order:{order_id}", f"order-change:{order_id}:{change}:{key}",
            reference="", order_id=order_id, change=change, language=language, address=address, details=values)
