"""``python -m petra``: the same command as ``petra``."""
import sys

from petra.cli import main

sys.exit(main())
