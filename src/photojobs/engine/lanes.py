"""The queue's two lanes, defined once: their names, the priorities each takes, their pause flags."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ..config import Config

PRIORITY = "priority"
NORMAL = "normal"
LANES = (PRIORITY, NORMAL)
PRIORITY_MAX = 1 << 31
# The settings keys that pause lanes (the claim in storage reads them; see storage's contract).
PAUSE_PREFIX = "pause."
PAUSE_ALL_KEY = f"{PAUSE_PREFIX}all"


def lane_of(priority: int, priority_threshold: int) -> str:
    """The lane a job of `priority` waits in: the priority lane from the threshold up."""
    return PRIORITY if priority >= priority_threshold else NORMAL


def pause_key(lane: str) -> str:
    return f"{PAUSE_PREFIX}{lane}"


@dataclass
class Lane:
    """A runner's slots in one lane, and the priority range they take jobs from."""

    name: str
    slots: int
    min_priority: int
    max_priority: int
    busy: int = 0
    threads: list[threading.Thread] = field(default_factory=list)

    @property
    def pause_key(self) -> str:
        return pause_key(self.name)


def make_lanes(config: Config) -> list[Lane]:
    p = config.pipeline
    return [Lane(PRIORITY, p.priority_lane_slots, p.priority_threshold, PRIORITY_MAX),
            Lane(NORMAL, p.normal_lane_slots, -PRIORITY_MAX, p.priority_threshold - 1)]
