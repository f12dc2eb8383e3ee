"""`python -m meshkit lab`: the `meshkit` command where no scripts folder is on PATH (Windows)."""

import sys

from .cli import main

sys.exit(main())
