"""``python -m kesher``: see :mod:`kesher.cli`."""

import sys

from kesher.cli import main

sys.exit(main())
