"""Configuration: config.default.json overlaid by the user's config.json, validated once, then frozen."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from urllib.parse import urlsplit
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import platformdirs

from .errors import ConfigError

DEFAULT_CONFIG_PATH = Path(__file__).with_name("config.default.json")

# Keys that take one of a few words (and, for "auto", also a whole number).
_CHOICES = {
    "pipeline.max_parallel_items_per_job": ("auto",),
    "processing.format": ("jpeg", "webp"),
    "daemon.watch_mode": ("native", "polling", "off"),
    # Files in a project folder that are not photos: left where they are, or moved to .trash.
    "maintenance.foreign_files": ("keep", "trash"),
    # PostgreSQL catalog: "off" loses at most the last commits in a server crash, like SQLite's
    # synchronous=NORMAL (README "Durability"); "on" waits for each commit's WAL flush.
    "catalog.synchronous_commit": ("off", "on"),
}
_WORD_OR_INT = {"pipeline.max_parallel_items_per_job"}
_MINIMUMS = {
    "pipeline.max_parallel_jobs": 1,
    "pipeline.max_parallel_items_per_job": 1,
    "pipeline.priority_lane_slots": 0,
    "pipeline.heartbeat_ms": 10,
    "pipeline.stale_seconds": 1,
    "pipeline.max_attempts_default": 1,
    "pipeline.poll_ms": 1,
    "pipeline.busy_timeout_ms": 1,
    "processing.thumbnail.maxDim": 1,
    "processing.preview.maxDim": 1,
    "processing.thumbnail.quality": 1,
    "processing.preview.quality": 1,
    "daemon.port": 0,
    "daemon.sse_max_streams_per_client": 1,
    "daemon.sse_max_streams": 1,
    # A negative TTL (someone's "-1 = never") would expire every trashed file at once.
    "maintenance.trash_ttl_hours": 0,
    "catalog.backups": 0,   # 0: no daily backups
}
_MAXIMUMS = {
    "daemon.port": 65535,
}


@dataclass(frozen=True)
class PipelineConfig:
    max_parallel_jobs: int
    max_parallel_items_per_job: int  # "auto" resolved to the number of usable cores
    priority_lane_slots: int
    priority_threshold: int
    heartbeat_ms: int
    stale_seconds: float
    max_attempts_default: int
    retry_base_seconds: float
    retry_max_seconds: float
    poll_ms: int
    shutdown_grace_seconds: float
    retention_days: float
    busy_timeout_ms: int          # how long a write waits for another process's before "busy"
    host_id: str                  # this machine's name in the jobs it runs ("": its hostname)

    @property
    def normal_lane_slots(self) -> int:
        return self.max_parallel_jobs - self.priority_lane_slots


@dataclass(frozen=True)
class Config:
    """The whole configuration. `data` is the validated tree; `pipeline` is typed for the engine."""

    data: Mapping[str, Any]
    pipeline: PipelineConfig
    sources: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return node


def user_config_path() -> Path:
    return platformdirs.user_config_path("photojobs") / "config.json"


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _type_name(default: Any) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, int):
        return "a whole number"
    if isinstance(default, list):
        return "a list"
    return "a string"


def _type_ok(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, list):
        return isinstance(value, list) and all(isinstance(v, type(default[0])) for v in value) if default else isinstance(value, list)
    return isinstance(value, type(default))


def _overlay(base: dict, user: dict, source: str, prefix: str = "") -> None:
    for key, value in user.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            raise ConfigError(f"{source}: unknown key '{dotted}'")
        default = base[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: '{dotted}' must be an object")
            _overlay(default, value, source, dotted + ".")
            continue
        if dotted in _CHOICES:
            choices = _CHOICES[dotted]
            int_ok = dotted in _WORD_OR_INT and isinstance(value, int) and not isinstance(value, bool)
            if value not in choices and not int_ok:
                words = ", ".join(choices)
                expected = f"a whole number or {words}" if dotted in _WORD_OR_INT else f"one of {words}"
                raise ConfigError(f"{source}: '{dotted}' must be {expected}, got {json.dumps(value)}")
        elif not _type_ok(default, value):
            raise ConfigError(f"{source}: '{dotted}' must be {_type_name(default)}, got {json.dumps(value)}")
        base[key] = value


def _check_ranges(data: dict, source: str) -> list[str]:
    for dotted, minimum in _MINIMUMS.items():
        node: Any = data
        for part in dotted.split("."):
            node = node[part]
        if isinstance(node, (int, float)) and not isinstance(node, bool) and node < minimum:
            raise ConfigError(f"{source}: '{dotted}' must be at least {minimum}, got {node}")
    for dotted, maximum in _MAXIMUMS.items():
        node = data
        for part in dotted.split("."):
            node = node[part]
        if isinstance(node, (int, float)) and not isinstance(node, bool) and node > maximum:
            raise ConfigError(f"{source}: '{dotted}' must be at most {maximum}, got {node}")
    p = data["pipeline"]
    if p["priority_lane_slots"] > p["max_parallel_jobs"]:
        raise ConfigError(
            f"{source}: 'pipeline.priority_lane_slots' ({p['priority_lane_slots']}) is more than "
            f"'pipeline.max_parallel_jobs' ({p['max_parallel_jobs']})"
        )
    warnings = []
    if p["max_parallel_jobs"] - p["priority_lane_slots"] == 0:
        warnings.append(
            "pipeline: the normal lane has zero slots; jobs with priority below "
            f"{p['priority_threshold']} will never run (normal lane may starve)"
        )
    if p["priority_lane_slots"] == 0:
        warnings.append("pipeline: the priority lane has zero slots; priority jobs will wait in the normal queue forever")
    return warnings


def web_origin(value: str) -> str | None:
    """`value` as a browser writes it in an Origin header (scheme://host[:port], lower case, no
    default port), or None when it is not a web origin (a path, "*", "null")."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password \
            or parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def _check_origins(data: dict, source: str) -> None:
    for value in data["daemon"]["allowed_origins"]:
        if not isinstance(value, str) or web_origin(value) is None:
            raise ConfigError(f"{source}: 'daemon.allowed_origins' entries must be web origins such as "
                              f"\"http://localhost:5173\" (scheme, host and port only), got {json.dumps(value)}")


def load_config(path: str | os.PathLike | None = None, *, overrides: dict | None = None) -> Config:
    """Load defaults, overlay `path` (or $PHOTOJOBS_CONFIG, or the user config file if it exists)."""
    data = json.loads(DEFAULT_CONFIG_PATH.read_text())
    sources = [str(DEFAULT_CONFIG_PATH)]
    explicit = path or os.environ.get("PHOTOJOBS_CONFIG")
    candidate = Path(explicit) if explicit else user_config_path()
    if explicit or candidate.exists():
        source = str(candidate)
        try:
            user = json.loads(candidate.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{source}: config file not found") from None
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read config file ({exc.strerror})") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
        if not isinstance(user, dict):
            raise ConfigError(f"{source}: the top level must be a JSON object")
        _overlay(data, user, source)
        sources.append(source)
    if overrides:
        _overlay(data, overrides, "overrides")
    warnings = _check_ranges(data, sources[-1])
    _check_origins(data, sources[-1])
    p = dict(data["pipeline"])
    if p["max_parallel_items_per_job"] == "auto":
        p["max_parallel_items_per_job"] = usable_cores()
    pipeline = PipelineConfig(**p)
    return Config(data=_freeze(data), pipeline=pipeline, sources=tuple(sources), warnings=tuple(warnings))


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
