"""`geocube-ingester status`: when an AOI counts as settled, and the one-line form for logs."""

from __future__ import annotations

from libs.stack.status import Snapshot, progress_line


def counts(**given: int) -> dict[str, int]:
    base = {"new": 0, "pending": 0, "done": 0, "retry": 0, "failed": 0}
    base.update(given)
    return {**base, "total": sum(base.values())}


def test_settled_needs_a_final_status_and_nothing_running() -> None:
    assert Snapshot("DONE", counts(done=2), counts(done=2), []).settled
    # RETRY while the other scene's tile still runs: keep following.
    assert not Snapshot("RETRY", counts(done=1, retry=1), counts(new=1, pending=1), []).settled
    # Its NEW tile waits on the RETRY scene: nothing will move without a retry.
    assert Snapshot("RETRY", counts(done=1, retry=1), counts(new=1, done=1), []).settled
    assert not Snapshot("PENDING", counts(done=2), counts(done=2), []).settled


def test_troubled_is_any_failed_or_retry() -> None:
    assert not Snapshot("DONE", counts(done=2), counts(done=2), []).troubled
    assert Snapshot("DONE", counts(done=2), counts(done=1, failed=1), []).troubled
    assert Snapshot("RETRY", counts(retry=1), counts(new=1), []).troubled


def test_progress_line_names_only_the_statuses_present() -> None:
    snap = Snapshot("PENDING", counts(done=1, pending=1), counts(new=1, done=1), [])
    assert progress_line("A", snap) == "A PENDING: scenes 1/2 done, 1 PENDING | tiles 1/2 done, 1 NEW"
