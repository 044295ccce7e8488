"""``python -m orchestrator.cli ARGS``: the same as ``ganhpo ARGS``."""

import sys

from orchestrator.cli import main

sys.exit(main())
