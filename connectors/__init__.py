"""Customer channels (web widget, WhatsApp via Twilio, Telegram) sharing one base.

Not built yet: issue #4. Until then customers reach the bot through Rasa's
REST channel (``credentials.yml``) and ``rasa shell``.
"""
