"""Cut samples into fixed time windows, as Cruise Control does, and mark which samples may count.

Windows are aligned to multiples of the window length; the window still in progress never
counts, so a load model is built from `windows` complete windows ending at the last boundary.
Samples taken while a partition was being reassigned, or within `cooldown_s` after the last such
sample, are excluded (DoctorKafka's rule): moving replicas inflate bytes in and disk on both ends.
"""

from __future__ import annotations

import math

import pandas as pd

from kafka_medic.metrics.store import MAX_COOLDOWN_S

PARTITION_KEY = ["topic", "partition"]


def window_bounds(now: float, window_s: float, windows: int) -> tuple[float, float]:
    """(start, end) of the `windows` complete windows before the one `now` falls in."""
    end = math.floor(now / window_s) * window_s
    return end - windows * window_s, end


def aggregation_conflict(
    aggregated: tuple[float, float, float] | None, start: float, window_s: float, windows: int, cooldown_s: float
) -> str | None:
    """Why windows from `start` cannot be built exactly from the store's aggregated base windows
    (`MetricsStore.aggregated`: base, since, until), or None.

    A base window's sums cannot be split, so every boundary the build cuts at (its windows', and the
    start of the cooldown before them) must fall on a base boundary or outside the aggregated span;
    and the build's cooldown must not be longer than the store's MAX_COOLDOWN_S, within which a
    reassigning partition keeps its raw rows.
    """
    if aggregated is None:
        return None
    base, since, until = aggregated
    if cooldown_s > MAX_COOLDOWN_S and until > start:
        return f"a cooldown of {cooldown_s:g}s is longer than the {MAX_COOLDOWN_S:g}s the store keeps reassignments raw"
    cuts = [start - cooldown_s, *(start + i * window_s for i in range(windows + 1))]
    inside = [cut for cut in cuts if since < cut < until and cut % base]
    if inside:
        return (f"windows of {window_s:g}s with a cooldown of {cooldown_s:g}s cut the store's aggregated "
                f"{base:g}s windows (at {inside[0]:.0f}): use multiples of {base:g}s")  # fmt: skip
    return None


def window_index(ts: pd.Series, start: float, window_s: float) -> pd.Series:
    return ((ts - start) // window_s).astype("int64")


def excluded_by_reassignment(samples: pd.DataFrame, cooldown_s: float) -> pd.Series:
    """True for rows of a partition that was reassigning at that time or less than cooldown_s before."""
    if samples.empty:
        return pd.Series(False, index=samples.index)
    flagged = samples.groupby([*PARTITION_KEY, "ts"], sort=True)["reassigning"].any().reset_index()
    flagged["last_flag"] = flagged["ts"].where(flagged["reassigning"])
    flagged["last_flag"] = flagged.groupby(PARTITION_KEY)["last_flag"].ffill()
    merged = samples[[*PARTITION_KEY, "ts"]].merge(flagged, on=[*PARTITION_KEY, "ts"], how="left")
    excluded = (merged["ts"] - merged["last_flag"]) <= cooldown_s
    return pd.Series(excluded.to_numpy(), index=samples.index)
