"""Repository-wide pytest setup: none beyond the robustprune plugin (loaded through its entry
point). The unit tests' own setup, hypothesis profiles included, is in tests/conftest.py, so a
benchmark run needs nothing from the test extra."""
