"""Kesher's custom actions (rasa_sdk): orders, knowledge base, fallback and handoff.

``rasa run actions`` imports every module of this package and registers each
concrete ``Action`` subclass; backends are built lazily in :mod:`actions.backends`.
"""
