"""robustprune: does your pruned network still work away from the test set?

The public surface is re-exported here; everything else lives in submodules.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
