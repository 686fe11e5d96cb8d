"""Customer e-mails of the handoff: a summary at handoff and at close.

* :mod:`~handoff.mail.masking` hides card and ID numbers (the rules are in :mod:`core.masking`).
* :mod:`~handoff.mail.compose` builds the bilingual multipart messages from the text catalog.
* :mod:`~handoff.mail.outbox` queues jobs in Redis and sends them over SMTP with retries.
* :mod:`~handoff.mail.smtpd` is the local SMTP server that keeps ``.eml`` files for the console.
"""
