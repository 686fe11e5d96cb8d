"""Customer channels, as Rasa custom input channels sharing one base and one routing path.

``base.KesherInputChannel`` gives every channel its webhook, validation,
deduplication, the customer's conversation (``handoff.identity``) and the
handoff-aware router; ``delivery`` sends every outbound message through its
channel once. The channels: ``web`` (the site's chat widget), ``whatsapp``
(Twilio), ``telegram`` (python-telegram-bot) and ``callback`` (loopback JSON).
They are registered in ``credentials.yml``; ``python -m kesher telegram-webhook`` registers the
channels' admin commands.
"""
