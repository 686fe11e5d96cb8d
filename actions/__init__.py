"""Kesher's custom actions (rasa_sdk): orders, knowledge base, fallback and handoff.

One module per job; each action gets its backends (``backends.Backends``)
through its constructor. ``server`` registers them all and serves rasa_sdk's
protocol; ``orders/`` and ``kb/`` are the orders store and the help centre.
"""
