"""``python -m consumers`` = the ``online-lr`` command."""

from __future__ import annotations

import sys

from consumers.cli import main

sys.exit(main())
