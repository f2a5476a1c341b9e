"""Repository-wide pytest setup: hypothesis profiles that suit a 2-core CI machine."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Model-building examples take longer than hypothesis' 200 ms default deadline on a busy CPU.
settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("default"), max_examples=25)
settings.load_profile("ci" if os.environ.get("CI") else "default")
