"""``python -m sim.cli``: the ``migsim`` command."""
import sys

from . import main

sys.exit(main())
