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
