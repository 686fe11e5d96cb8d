"""What Rasa's training cache must know about a component's code besides its class.

Rasa 3.6 keys a trained component in its cache by the source of the
component's class (``inspect.getsource``), its config and its inputs. The
classifiers' work is in helper modules (:mod:`bot.components.features`,
:mod:`bot.components.linear`): a change there alone would let ``make ship``
and ``kesher train`` reuse a component the old code trained. Each component's
``fingerprint_addon`` returns :func:`source_fingerprint` of the modules it
runs, which Rasa adds to the key.
"""

from __future__ import annotations

import inspect
from hashlib import md5
from pathlib import Path
from types import ModuleType

__all__ = ["source_fingerprint"]


def source_fingerprint(*modules: ModuleType) -> str:
    """The MD5 of the modules' source files, in the order given."""
    digest = md5(usedforsecurity=False)
    for module in modules:
        source = Path(inspect.getfile(module))
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()
