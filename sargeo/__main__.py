"""``python -m sargeo`` runs the command line."""

import sys

from sargeo.cli import main

sys.exit(main())
