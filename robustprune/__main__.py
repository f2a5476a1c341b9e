"""``python -m robustprune ...`` is the same as the ``robustprune`` command."""

from __future__ import annotations

import sys

from robustprune.cli import main

sys.exit(main())
