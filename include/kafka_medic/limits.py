"""Input limits, in one place: how big a file, how deep its JSON, how large a number may be, which regexes run.

Every file kafka-medic reads (models, proposals, capacities) and every numeric CLI option goes through
these checks, so a damaged or hostile input is refused in one line naming the bad value and what is
valid, instead of growing memory without bound (/dev/zero), blocking forever (a FIFO), overflowing
numpy (a load of 1e308), failing with a traceback much later (a broker id of 2**63 reaching int32
arrays, a lone surrogate reaching the terminal) or backtracking for minutes (`(a+)+$` on a long topic
name: topic regexes run in RE2, whose matching time is linear in the text).

A check raises `OutOfLimits` (a ValueError) with a message that reads after the value's name, e.g.
"must be an integer from 0 to 2147483647, got 10000000000"; the caller adds the name and its own
error type (a model file's entry label, an argparse option).
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from functools import lru_cache
from typing import Any, Protocol

import re2

MAX_FILE_BYTES = 256 * 2**20  # a model of a million partitions is about 200 MB
MAX_JSON_DEPTH = 32  # model, proposal and capacity files nest 5 deep
INT32_MAX = 2**31 - 1  # Kafka broker ids and partition numbers are int32
JSON_SAFE_INT = 2**53  # past this an integer is no longer exact in JavaScript or as a float
MAX_NUMBER = 1e15  # loads, capacities, rates: far past any broker, and far from float overflow when summed
MIN_CAPACITY = 1e-6  # a capacity divides loads: 1e-300 makes every utilisation infinite


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # RE2 would also print the error on stderr; the caller says it in one line


class TopicPattern(Protocol):
    """A compiled topic regex; callers full-match topic names."""

    def fullmatch(self, text: str) -> object | None: ...


class OutOfLimits(ValueError):
    """A value outside what kafka-medic accepts; the message says what is valid."""


class InvalidRegex(OutOfLimits):
    """A regex RE2 does not compile; `reason` is what is wrong with it, for callers that name it their way."""

    def __init__(self, reason: str):
        super().__init__(f"is not a valid regex: {reason}")
        self.reason = reason


def read_bounded(path: str | os.PathLike, limit: int = MAX_FILE_BYTES) -> bytes:
    """A regular file's bytes, refusing anything else before reading it.

    Opened non-blocking so a FIFO is refused instead of waiting for a writer, checked to be a regular file
    (a device such as /dev/zero never ends), and read at most `limit` + 1 bytes in case it grows meanwhile.
    Raises OSError (cannot open) or OutOfLimits.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise OutOfLimits(f"is {file_kind(mode)}, not a regular file")
    with os.fdopen(fd, "rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise OutOfLimits(f"is over {limit // 2**20} MiB, the most kafka-medic reads")
    return data


def parse_json(data: bytes | str) -> Any:
    """JSON with finite numbers, JSON-safe integers, at most MAX_JSON_DEPTH levels and valid Unicode text.

    Raises OutOfLimits for a value out of limits, json.JSONDecodeError (a ValueError) for bad JSON.
    """
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    # the number checks are Python calls per number (0.08 s of a 20,000-partition model); text without an
    # integer of 16 digits, a 3-digit exponent or a 300-digit run has no number they would refuse
    checked = _LONG_NUMBER.search(text) is not None
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float if checked else None,
                           parse_int=_safe_int if checked else None)
    except RecursionError:
        raise OutOfLimits(f"is nested more than {MAX_JSON_DEPTH} levels deep") from None
    if type(value) in _CONTAINERS:
        depth = _bracket_depth(data if isinstance(data, bytes) else text.encode("utf-8", "surrogatepass"))
        if depth is None:  # a backslash, so maybe a surrogate escape too: `_check_tree` checks both
            _check_tree(value, text)
        elif depth > MAX_JSON_DEPTH:
            raise OutOfLimits(f"is nested more than {MAX_JSON_DEPTH} levels deep")
    elif type(value) is str:
        check_text(value)
    return value


def check_int(value: Any, low: int, high: int) -> int:
    """An integer (not a bool) from `low` to `high`."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise OutOfLimits(f"must be an integer from {low} to {high}, got {_show(value)}")
    return value


def check_number(value: Any, low: float = 0.0, high: float = MAX_NUMBER, low_inclusive: bool = True) -> float:
    """A finite number from `low` (or above it, when not `low_inclusive`) to `high`, as a float."""
    positive = low > 0 or not low_inclusive
    kind = "a positive number" if positive else "a finite number"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise OutOfLimits(f"must be {kind}, got {_show(value)}")
    if value < low or (value == low and not low_inclusive):
        if not positive:
            raise OutOfLimits(f"must be >= {low:g}, got {_show(value)}")
        raise OutOfLimits(f"must be {kind}, got {_show(value)}" + (f" (at least {low:g})" if low_inclusive else ""))
    if value > high:
        raise OutOfLimits(f"must be <= {high:g}, got {_show(value)}")
    return float(value)


def check_text(value: str) -> str:
    """Text that can be written out: JSON's \\ud800 escapes make lone surrogates, which no encoder writes."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise OutOfLimits(f"has a lone surrogate at character {exc.start}: {_show(value)}") from None
    return value


@lru_cache(maxsize=256)
def topic_regex(pattern: str) -> TopicPattern:
    """`pattern` compiled by RE2 (no backtracking, so no pattern makes a match slow); cached, as callers
    match it against each of many topic names."""
    try:
        return re2.compile(check_text(pattern), options=_RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if isinstance(exc.args[0], bytes) else str(exc)
        raise InvalidRegex(f"{reason} (RE2 syntax: no backreferences or lookaround)") from None


def _bracket_depth(data: bytes) -> int | None:
    """The deepest nesting of brackets outside strings in valid JSON, or None when it has a backslash (an
    escaped quote would take a parser to place). Vectorised over its quotes and brackets alone: 10 ms for a
    5 MB model, where `_check_tree` walks its 60,000 containers in 50 ms."""
    if b"\\" in data:
        return None
    import numpy as np  # here: the CLI's light commands import this module and never load numpy

    marks = np.frombuffer(data.translate(None, _NOT_MARKS), dtype=np.uint8)
    outside = np.cumsum(marks == 34, dtype=np.int32) % 2 == 0  # 34 is '"'; a quote itself counts as inside
    step = ((marks == 91) | (marks == 123)).astype(np.int32) - ((marks == 93) | (marks == 125))  # [ { and ] }
    return int(np.cumsum(np.where(outside, step, 0), dtype=np.int32).max(initial=0))


def _check_tree(value: Any, text: str) -> None:
    """Depth of every container, iteratively (a recursive walk would itself overflow on deep input), and the
    strings only when `text` has a surrogate escape: decoded UTF-8 has none otherwise, and a walk over every
    string of a 100,000-partition model cost more than parsing it."""
    strings = _SURROGATE_ESCAPE.search(text) is not None
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise OutOfLimits(f"is nested more than {MAX_JSON_DEPTH} levels deep")
        children = [*node, *node.values()] if type(node) is dict else node
        stack.extend((child, depth + 1) for child in children if type(child) in _CONTAINERS)
        if strings:
            for child in children:
                if type(child) is str:
                    check_text(child)


_CONTAINERS = {dict, list}
_NOT_MARKS = bytes(sorted(set(range(256)) - set(b'"[]{}')))
# what an integer past 2**53 or a float past 1e308 needs; RE2 scans a 5 MB model in 12 ms, Python's re in 370
_LONG_NUMBER = re2.compile(r"(?:^|[^.\d])\d{16}|[eE][-+]?\d{3}|\d{300}")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _refuse_constant(name: str) -> Any:
    raise OutOfLimits(f"has {name}, which is not a number in JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise OutOfLimits(f"has the number {_show(text)}, beyond the range of a float")
    return value


def _safe_int(text: str) -> int:
    if len(text.lstrip("-")) > 16 or abs(value := int(text)) > JSON_SAFE_INT:
        raise OutOfLimits(f"has the integer {_show(text)}, beyond ±2**53")
    return value


def _show(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else f"{shown[:30]}...({len(shown)} characters)"


def file_kind(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO", stat.S_ISCHR: "a character device",
             stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket"}
    return next((name for test, name in kinds.items() if test(mode)), "not a regular file")
