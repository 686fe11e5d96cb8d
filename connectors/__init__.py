"""Customer channels, as Rasa custom input channels sharing one base and one routing path.

``base.KesherInputChannel`` gives every channel its webhook, validation,
deduplication and the handoff-aware router; ``delivery`` sends every outbound
message through its channel once. ``callback`` is the loopback JSON channel;
the web widget, WhatsApp (twilio) and Telegram (python-telegram-bot) come in
issue #4. Channels are registered in ``credentials.yml``.
"""
