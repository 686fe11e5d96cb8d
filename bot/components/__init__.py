"""Custom Rasa NLU components (referenced by their dotted path in config.yml).

Rasa imports this package when it loads a model, which is also when
:mod:`bot.rasa_speedups` is installed into the server.
"""

from bot.rasa_speedups import install as _install_speedups

_install_speedups()
