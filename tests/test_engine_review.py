"""Engine and daemon correctness: regressions found in review (races, lost jobs, signals)."""

from __future__ import annotations

from photojobs.engine import queue
from photojobs.engine.registry import handler
from photojobs.engine.runner import Runner


@handler("review_unique_flaky", priority=50, unique=True, needs_project=False)
def _unique_flaky(ctx) -> None:
    """A unique job that, on its first attempt, sees a twin queued while it runs, then fails."""
    if ctx.payload.get("twin") and ctx.row["attempts"] == 1:
        queue.enqueue(ctx.lib, "review_unique_flaky", source="test")
        raise RuntimeError("transient failure")


def test_unique_job_retry_while_its_twin_is_queued_is_requeued_not_stuck(open_library):
    # A maintenance job is unique only while queued: a twin may be queued while it runs. Its
    # retry (or release, or recovery) must not hit the unique index and leave it running forever.
    lib = open_library({"pipeline": {"retry_base_seconds": 0.01, "retry_max_seconds": 0.01,
                                     "stale_seconds": 600}})
    first = queue.enqueue(lib, "review_unique_flaky", payload={"twin": True})
    Runner(lib, until_empty=True).run()
    jobs = queue.list_jobs(lib, type=["review_unique_flaky"])
    assert len(jobs) == 2
    assert {j["status"] for j in jobs} == {"completed"}, jobs
    assert queue.get_job(lib, first["id"])["attempts"] == 2


def test_manual_retry_of_a_unique_job_while_its_twin_is_queued(open_library):
    lib = open_library()
    first = queue.enqueue(lib, "test_unique")
    queue.cancel(lib, first["id"])
    twin = queue.enqueue(lib, "test_unique")
    assert twin["id"] != first["id"]
    retried = queue.retry(lib, first["id"])          # no IntegrityError: both are queued again
    assert retried["status"] == "queued"
    assert queue.enqueue(lib, "test_unique")["id"] in (first["id"], twin["id"])   # still deduplicated
