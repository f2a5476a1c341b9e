"""Does the pruned network still work away from the test set? One case per (arch, method)."""

from __future__ import annotations

from robustprune.thresholds import check_record, effective_thresholds, failure_message


def test_prune_potential(case, record, rp_baseline):
    """Nominal and shifted prune potential reach their thresholds; excess error stays bounded."""
    thresholds = effective_thresholds(record)
    failures = check_record(record, thresholds) + rp_baseline(record)
    assert not failures, failure_message(record, failures)
