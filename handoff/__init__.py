"""The handoff domain: live-agent queue, routing, the desk's operations, customer e-mails.

``state`` keeps each conversation's handoff state machine in Redis, ``desk``
runs every operation on it, ``assigner`` routes queued conversations to
agents, ``router`` decides where a customer's message goes (every channel
calls it), ``identity`` follows a customer across channels and ``mail``
writes and sends the e-mails. No web framework here: the handoff service
(``console``) and the channels (``connectors``) are the edges that use it.
"""
