"""The HTTP edge that Kesher's Sanic apps share: error responses, JSON bodies, websockets.

The channels (``connectors``), the handoff service (``console``) and the
action server map the domain's errors to statuses here, in one place.
"""
