"""`python -m models_py ...`: the training subcommands without the churnwatch CLI."""

import sys

from models_py.cli import main

sys.exit(main())
