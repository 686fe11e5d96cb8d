"""Customer e-mails of the handoff: a summary at handoff and at close.

* :mod:`~handoff.mail.masking` hides card and ID numbers (spaCy tokenizer + Matcher).
* :mod:`~handoff.mail.compose` builds the bilingual multipart messages from ``texts.yml``.
* :mod:`~handoff.mail.outbox` queues jobs in Redis and sends them over SMTP with retries.
* :mod:`~handoff.mail.smtpd` is the local SMTP server that keeps ``.eml`` files for the console.
* :mod:`~handoff.mail.service` wires the outbox and its worker into the Sanic app.
"""

from __future__ import annotations

from handoff.mail.compose import closing_summary, handoff_summary
from handoff.mail.masking import mask_sensitive
from handoff.mail.outbox import MailOutbox, MailWorker, build_outbox
from handoff.mail.service import setup_mail
from handoff.mail.smtpd import list_mail, read_mail, start_smtpd

__all__ = [
    "MailOutbox",
    "MailWorker",
    "build_outbox",
    "closing_summary",
    "handoff_summary",
    "list_mail",
    "mask_sensitive",
    "read_mail",
    "setup_mail",
    "start_smtpd",
]
