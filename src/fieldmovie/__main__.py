"""``python -m fieldmovie``."""

import sys

from .cli import main

sys.exit(main())
