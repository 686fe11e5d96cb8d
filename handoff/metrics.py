"""What the handoff domain counts for Prometheus (the handoff service serves them on ``/metrics``).

Counted where it happens: the queue wait when an agent takes a conversation (``Desk.take``,
which the assigner and the console both call, in the handoff service) and each e-mail job's
outcome (``MailWorker``). The gauges read from Redis are in ``console/metrics.py``. Every
metric is listed in ``docs/operations.md``.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["MAIL_JOBS", "QUEUE_WAIT_SECONDS", "count_mail"]

# Seconds to an hour and a half: a busy afternoon's queue, and a night's outside business hours as +Inf.
QUEUE_WAIT_SECONDS = Histogram("kesher_queue_wait_seconds", "Seconds a conversation waited in the queue before an "
                               "agent took it (observed when taken).",
                               buckets=(5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 5400))
MAIL_JOBS = Counter("kesher_mail_jobs", "E-mail jobs the mail worker finished or tried, by outcome: sent, "
                    "retry (the SMTP server failed; tried again later), dropped (never to be sent).", ["outcome"])
_MAIL_OUTCOMES = {"sent": "sent", "retry": "retry", "unreachable": "retry", "dropped": "dropped"}


def count_mail(outcome: str) -> None:
    """Counts one job's outcome as :class:`handoff.mail.outbox.MailWorker` names it (busy/skipped: not counted)."""
    if outcome in _MAIL_OUTCOMES:
        MAIL_JOBS.labels(_MAIL_OUTCOMES[outcome]).inc()
