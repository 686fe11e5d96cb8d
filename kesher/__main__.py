"""``python -m kesher``: see :mod:`kesher.cli`.

``python -m kesher serve PART`` becomes the part's own small module at once (:func:`kesher.part.serve`),
without importing the command line, which loads Rasa and TensorFlow.
"""

import sys

from kesher.part import PART_MODULES, serve

if len(sys.argv) == 3 and sys.argv[1] == "serve" and sys.argv[2] in PART_MODULES:
    sys.exit(serve(sys.argv[2]))

# Only the other commands need the whole command line.
from kesher.cli import main

sys.exit(main())
