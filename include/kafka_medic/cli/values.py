"""argparse types for numeric options, one per kind of value, all checked by kafka_medic.limits.

A bad value is argparse's usage error (exit 2) naming the option and what is valid, e.g.
"argument --poll: must be a positive number, got nan": NaN, infinities, zero or negatives where they
mean nothing, and integers past what the code below can hold (a numpy seed, a SQL LIMIT).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from kafka_medic.limits import INT32_MAX, MAX_NUMBER, OutOfLimits, check_int, check_number

SEED_MAX = 2**32 - 1  # numpy's legacy seeds are uint32


def positive_number(high: float = MAX_NUMBER) -> Callable[[str], float]:
    """Seconds, rates, window lengths: finite and above 0."""
    return _parsed(float, lambda value: check_number(value, 0.0, high, low_inclusive=False))


def fraction() -> Callable[[str], float]:
    """A share such as --min-valid-ratio: above 0, at most 1."""
    return positive_number(high=1.0)


def integer(low: int = 1, high: int = INT32_MAX) -> Callable[[str], int]:
    """Counts, limits and seeds: from `low` to `high`."""
    return _parsed(int, lambda value: check_int(value, low, high))


def _parsed(convert: Callable[[str], float], check: Callable) -> Callable:
    def parse(text: str):
        try:
            value = convert(text.strip()) if len(text) <= 40 else None
        except ValueError:
            value = None
        if value is None:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not {'an integer' if convert is int else 'a number'}")
        try:
            return check(value)
        except OutOfLimits as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = convert.__name__
    return parse
