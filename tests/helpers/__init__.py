"""Shared test helpers: trackers, backends on a real SQLite database, a running stack."""
