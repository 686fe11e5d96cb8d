"""The handoff service (Sanic + Redis): live-agent queue, routing, agent console, summary e-mails.

``state`` keeps each conversation's handoff state machine in Redis, ``desk``
runs every operation on it, ``assigner`` routes queued conversations to
agents, ``router`` decides where a customer's message goes (every channel
calls it), ``console`` is the agents' web app and ``mail`` the e-mails.
``python -m handoff serve`` runs the service (``app.create_app``).
"""
