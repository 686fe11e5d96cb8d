"""The handoff service (Sanic + Redis): live-agent queue, agent console, summary e-mails.

Not built yet: issue #3. Until then the bot records a request for a human in
the tracker (``handoff_*`` slots, see ``actions/handoff.py``) and tells the
customer; nothing picks the request up.
"""
