"""The Rasa bot's own Python: custom NLU components and measured speed-ups Rasa loads with them."""
