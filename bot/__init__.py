"""Kesher: settings, the ``python -m bot`` CLI, the local supervisor and language detection."""
