"""Input limits of model, proposal and capacity files: refused in one line naming the value, never a traceback.

Each case is a defect of issue 17: a file that grew memory without bound, blocked, or failed with a
traceback (an integer too large for the model, nesting 100,000 deep, a capacity of 1e-300, a lone
surrogate in a topic name).
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time

import pytest

from kafka_medic.capacity import load_capacities
from kafka_medic.limits import MAX_JSON_DEPTH, OutOfLimits, check_int, check_number, read_bounded, topic_regex
from kafka_medic.model import ModelError, Proposal, load_model, load_proposal, proposal_to_dict

from .test_model_files import SPEC_EXAMPLE
from .test_model_proposal import MOVE


def model_text(change) -> str:
    data = copy.deepcopy(SPEC_EXAMPLE)
    change(data)
    return json.dumps(data)


def set_in(path, value):
    def change(data):
        *parents, last = path
        for key in parents:
            data = data[key]
        data[last] = value
    return change


RAW = "@RAW@"  # replaced in the JSON text, for values json.dumps cannot write (huge integers, 1e400)

MODEL_CASES = {
    "partition 10**30": (set_in(["partitions", 0, "partition"], RAW), str(10**30), "beyond ±2**53"),
    "partition past int32": (set_in(["partitions", 0, "partition"], 2**31), None,
                             "'partition' must be an integer from 0 to 2147483647, got 2147483648"),
    "broker id 2**63": (set_in(["brokers", 0, "id"], RAW), str(2**63), "beyond ±2**53"),
    "broker id past int32": (set_in(["brokers", 0, "id"], 2**40), None,
                             "'id' must be an integer from 0 to 2147483647, got 1099511627776"),
    "replica id past int32": (set_in(["partitions", 0, "replicas"], [1, 2, 2**33]), None,
                              "'replicas' must be an integer from 0 to 2147483647"),
    "a load of 1e400 written as an integer": (set_in(["partitions", 0, "load", "disk"], RAW), "1" + "0" * 400,
                                              "beyond ±2**53"),
    "a load of 1e400": (set_in(["partitions", 0, "load", "disk"], RAW), "1e400", "beyond the range of a float"),
    "a load of 1e308": (set_in(["partitions", 0, "load", "nw_in"], 1e308), None, "'nw_in' must be <= 1e+15"),
    "a capacity of 1e-300": (set_in(["brokers", 0, "capacity", "cpu"], 1e-300), None,
                             "'cpu' must be a positive number, got 1e-300 (at least 1e-06)"),
    "NaN": (set_in(["partitions", 0, "load", "cpu"], RAW), "NaN", "NaN, which is not a number in JSON"),
    "a lone surrogate in a topic name": (set_in(["partitions", 0, "topic"], RAW), '"orders\\ud800"',
                                         "lone surrogate at character 6"),
}


@pytest.mark.parametrize("case", list(MODEL_CASES))
def test_a_model_out_of_limits_is_refused_in_one_line(tmp_path, case):
    change, raw, message = MODEL_CASES[case]
    text = model_text(change)
    if raw is not None:
        text = text.replace(f'"{RAW}"', raw)
    path = tmp_path / "model.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelError) as raised:
        load_model(path)
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert str(raised.value).startswith(str(path))


@pytest.mark.parametrize(("opening", "middle", "closing"), [("[", "", "]"), ('{"a":', "1", "}")])
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_deep_nesting_is_refused(tmp_path, opening, middle, closing, depth):
    path = tmp_path / "deep.json"
    path.write_text(opening * depth + middle + closing * depth)
    for load in (load_model, load_proposal):
        with pytest.raises(ModelError, match=f"nested more than {MAX_JSON_DEPTH} levels deep"):
            load(path)


@pytest.mark.parametrize("escaped", [False, True])
def test_nesting_counts_brackets_outside_strings_only(tmp_path, escaped):
    """Depth is read from the text's brackets outside strings (or, with a backslash in the text, from the
    parsed tree): a name full of brackets is not nesting, and nesting next to an escaped quote still is."""
    path = tmp_path / "model.json"
    data = copy.deepcopy(SPEC_EXAMPLE)
    data["cluster"] = ('"' if escaped else "") + "[{" * MAX_JSON_DEPTH
    path.write_text(json.dumps(data))
    assert load_model(path).cluster == data["cluster"]
    data["taken_at"] = json.loads("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match=f"nested more than {MAX_JSON_DEPTH} levels deep"):
        load_model(path)


def test_a_proposal_with_a_lone_surrogate_or_a_huge_partition_is_refused(tmp_path):
    path = tmp_path / "proposal.json"
    text = json.dumps(proposal_to_dict(Proposal("demo", ["rack_aware"], [MOVE], {})))
    path.write_text(text.replace('"orders"', '"ord\\udc00ers"'))
    with pytest.raises(ModelError, match=r"proposal.json has a lone surrogate at character 3: 'ord.udc00ers'"):
        load_proposal(path)
    path.write_text(text.replace('"partition": 0', f'"partition": {2**31}'))
    with pytest.raises(ModelError, match="'partition' must be an integer from 0 to 2147483647"):
        load_proposal(path)


def test_dev_zero_a_directory_and_a_fifo_are_refused_unread(tmp_path):
    with pytest.raises(ModelError, match="cannot read /dev/zero: is a character device, not a regular file"):
        load_model("/dev/zero")
    with pytest.raises(ModelError, match="is a directory, not a regular file"):
        load_proposal(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    done = threading.Event()  # no writer ever opens the FIFO: reading it would block forever

    def load():
        with pytest.raises(ModelError, match="is a FIFO, not a regular file"):
            load_model(fifo)
        done.set()

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(10)
    assert done.is_set()


def test_a_file_over_the_size_limit_is_refused_having_read_one_byte_past_it(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 1001)
    assert read_bounded(path, limit=1001) == b" " * 1001
    with pytest.raises(OutOfLimits, match="is over 0 MiB"):
        read_bounded(path, limit=1000)


def test_capacity_files_have_the_same_limits(tmp_path):
    path = tmp_path / "cap.json"
    for text, message in [
        ('{"default": {"disk": 1e-300, "nw_in": 1, "nw_out": 1, "cpu": 1}}', "disk must be a positive number"),
        ('{"default": {"disk": 1e400, "nw_in": 1, "nw_out": 1, "cpu": 1}}', "beyond the range of a float"),
        ("[" * 100_000, "nested more than"),
        ('{"default": {"disk": 1, "nw_in": 1, "nw_out": 1, "cpu": 1}, "99999999999": {}}', "nor a broker id"),
    ]:
        path.write_text(text)
        with pytest.raises(Exception, match=message) as raised:
            load_capacities(path)
        assert "\n" not in str(raised.value)
    with pytest.raises(Exception, match="is a character device"):
        load_capacities("/dev/zero")


def test_checks_name_what_is_valid():
    assert check_int(7, 0, 10) == 7
    with pytest.raises(OutOfLimits, match="must be an integer from 0 to 10, got True"):
        check_int(True, 0, 10)
    with pytest.raises(OutOfLimits, match="must be a positive number, got 0"):
        check_number(0, low_inclusive=False)
    with pytest.raises(OutOfLimits, match="must be a finite number, got nan"):
        check_number(float("nan"))


def test_a_backtracking_regex_runs_in_linear_time_in_re2():
    start = time.monotonic()
    assert topic_regex("(a+)+$").fullmatch("a" * 10_000 + "b") is None
    assert topic_regex("orders-.*").fullmatch("orders-eu") is not None
    assert time.monotonic() - start < 0.5


@pytest.mark.parametrize("regex", ["(", "(a)\\1", "(?<=a)b", "\ud800"])
def test_an_invalid_regex_is_out_of_limits(regex):
    with pytest.raises(OutOfLimits):
        topic_regex(regex)

