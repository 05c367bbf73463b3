"""The one lane definition: the lane a job is said to wait in is the lane whose slots take it."""

from __future__ import annotations

from photojobs.config import load_config
from photojobs.engine.lanes import LANES, PRIORITY_MAX, lane_of, make_lanes

# The engine contract: every test here that opens a library runs on both catalogs.
BACKENDS = ("sqlite", "postgresql")


def test_each_priority_is_taken_by_the_lane_it_is_said_to_wait_in():
    config = load_config(overrides={"pipeline": {"priority_threshold": 50}})
    lanes = make_lanes(config)
    assert tuple(lane.name for lane in lanes) == LANES
    for priority in (-PRIORITY_MAX, -1, 0, 49, 50, 51, 100, PRIORITY_MAX):
        takers = [lane.name for lane in lanes if lane.min_priority <= priority <= lane.max_priority]
        assert takers == [lane_of(priority, 50)]


def test_a_wake_up_tells_each_lane_whether_a_job_may_have_come_for_it():
    """Idle lane slots sleep through wake-ups that queued nothing for their priorities: a claim or
    progress (no work), a job for the other lane; a pause change, or more wake-ups than are
    remembered, may concern every lane."""
    from photojobs.library import Waker
    waker = Waker()
    normal, priority = (0, 89), (90, 1000)
    seen = waker.work_generation()
    waker.notify(work=False)
    assert not waker.work_since(seen, *normal) and not waker.work_since(seen, *priority)
    waker.notify(work=frozenset({50}))
    assert waker.work_since(seen, *normal) and not waker.work_since(seen, *priority)
    seen = waker.work_generation()
    waker.notify(work=frozenset({50, 95}))
    assert waker.work_since(seen, *normal) and waker.work_since(seen, *priority)
    seen = waker.work_generation()
    waker.notify()   # a pause lifted, or another process's commit nobody could read
    assert waker.work_since(seen, *priority)
    seen = waker.work_generation()
    for _ in range(Waker.RECENT_WORK + 1):
        waker.notify(work=frozenset({50}))
    assert waker.work_since(seen, *priority)   # too many to remember: look
    assert not waker.work_since(waker.work_generation(), *normal)
