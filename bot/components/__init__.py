"""Custom Rasa NLU components (referenced by their dotted path in config.yml)."""
