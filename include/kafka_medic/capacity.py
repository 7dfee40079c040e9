"""Broker capacities from a capacity file: what 100% of disk, network and CPU means for each broker.

The file is JSON with a "default" entry and optional entries keyed by broker id; a broker entry
overrides only the resources it names. Disk may be one number or a map of log dir to size, as
Cruise Control allows for JBOD brokers. Units are the cluster model's: disk MB, network KB/s,
CPU percent of the broker (so at most 100)::

    {"default": {"disk": 500000, "nw_in": 125000, "nw_out": 125000, "cpu": 100},
     "3": {"disk": {"/data/a": 250000, "/data/b": 250000}}}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka_medic.errors import MedicError
from kafka_medic.limits import INT32_MAX, MIN_CAPACITY, OutOfLimits, check_number, parse_json, read_bounded

RESOURCES = ("disk", "nw_in", "nw_out", "cpu")
# A capacity for a dev machine when no file is given: the spec's example broker.
DEFAULT_CAPACITY = {"disk": 500000.0, "nw_in": 125000.0, "nw_out": 125000.0, "cpu": 100.0}


@dataclass(frozen=True)
class BrokerCapacity:
    disk: float
    nw_in: float
    nw_out: float
    cpu: float
    disk_by_logdir: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float]:
        return {r: getattr(self, r) for r in RESOURCES}


@dataclass(frozen=True)
class Capacities:
    default: BrokerCapacity
    brokers: dict[int, BrokerCapacity] = field(default_factory=dict)

    def for_broker(self, broker: int) -> BrokerCapacity:
        return self.brokers.get(broker, self.default)


def load_capacities(path: str | Path | None) -> Capacities:
    """Read and validate a capacity file; None gives DEFAULT_CAPACITY for every broker."""
    if path is None:
        return parse_capacities({"default": DEFAULT_CAPACITY}, "built-in default")
    try:
        data = parse_json(read_bounded(path))
    except OSError as exc:
        raise MedicError(f"cannot read capacity file {path}: {exc.strerror}") from exc
    except OutOfLimits as exc:
        raise MedicError(f"capacity file {path} {exc}") from exc
    except ValueError as exc:  # bad JSON, or bytes that are not UTF-8
        raise MedicError(f"capacity file {path} is not JSON: {exc}") from exc
    return parse_capacities(data, str(path))


def parse_capacities(data: Any, source: str) -> Capacities:
    if not isinstance(data, dict):
        raise MedicError(f"capacity file {source}: expected an object of broker id -> capacity")
    if "default" not in data:
        raise MedicError(f"capacity file {source}: the 'default' entry is missing")
    default_raw = _entry(data["default"], source, "default")
    missing = [r for r in RESOURCES if r not in default_raw]
    if missing:
        raise MedicError(f"capacity file {source}: entry 'default' lacks {', '.join(missing)}")
    default = _capacity(default_raw, source, "default")
    brokers = {}
    for key, raw in data.items():
        if key == "default":
            continue
        if not (isinstance(key, str) and key.isascii() and key.isdigit() and int(key) <= INT32_MAX):
            raise MedicError(f"capacity file {source}: entry {key!r} is neither 'default' nor a broker id")
        entry = _entry(raw, source, key)
        brokers[int(key)] = _capacity({**default_raw, **entry}, source, key)
    return Capacities(default, brokers)


def _entry(raw: Any, source: str, name: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise MedicError(f"capacity file {source}: entry {name!r} must be an object")
    unknown = sorted(set(raw) - set(RESOURCES))
    if unknown:
        raise MedicError(
            f"capacity file {source}: entry {name!r} has unknown key(s) {', '.join(unknown)}; "
            f"valid: {', '.join(RESOURCES)}"
        )
    return raw


def _capacity(raw: dict[str, Any], source: str, name: str) -> BrokerCapacity:
    disk = raw["disk"]
    by_logdir: dict[str, float] = {}
    if isinstance(disk, dict):
        if not disk:
            raise MedicError(f"capacity file {source}: entry {name!r} has an empty disk map")
        by_logdir = {d: _positive(v, source, name, f"disk of log dir {d!r}") for d, v in disk.items()}
        disk = sum(by_logdir.values())
    values = {r: _positive(raw[r], source, name, r) for r in ("nw_in", "nw_out", "cpu")}
    if values["cpu"] > 100:
        raise MedicError(f"capacity file {source}: entry {name!r}: cpu is percent of the broker, at most 100")
    return BrokerCapacity(disk=_positive(disk, source, name, "disk"), disk_by_logdir=by_logdir, **values)


def _positive(value: Any, source: str, name: str, what: str) -> float:
    try:
        return check_number(value, low=MIN_CAPACITY)
    except OutOfLimits as exc:
        raise MedicError(f"capacity file {source}: entry {name!r}: {what} {exc}") from None
