"""Cluster model files: spec validation errors name the entry, and saving is byte-stable."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafka_medic.errors import MedicError
from kafka_medic.model import (
    ClusterArrays,
    ModelError,
    load_model,
    model_to_dict,
    parse_model,
    save_model,
)
from kafka_medic.model.cluster import RESOURCES
from kafka_medic.model.fields import document_text
from kafka_medic.model.files import _parse_partition, _valid_partition

SPEC_EXAMPLE = {
    "format": "kafka-medic/cluster-model/v1",
    "cluster": "demo",
    "taken_at": "2026-11-22T10:00:00Z",
    "follower_cpu_ratio": 0.3,
    "brokers": [
        {
            "id": i,
            "rack": f"r{i}",
            "alive": True,
            "capacity": {"disk": 500000, "nw_in": 125000, "nw_out": 125000, "cpu": 100},
        }
        for i in (1, 2, 3, 4)
    ],
    "partitions": [
        {
            "topic": "orders",
            "partition": 0,
            "replicas": [1, 2, 3],
            "leader": 1,
            "load": {"disk": 1200.5, "nw_in": 800.0, "nw_out": 2400.0, "cpu": 1.2},
        },
        {
            "topic": "orders",
            "partition": 1,
            "replicas": [2, 3, 4],
            "leader": 3,
            "load": {"disk": 100.0, "nw_in": 80.0, "nw_out": 240.0, "cpu": 0.5},
        },
    ],
}


def model_data(**changes):
    data = copy.deepcopy(SPEC_EXAMPLE)
    data.update(changes)
    return data


def test_parses_the_spec_example():
    model = parse_model(SPEC_EXAMPLE)
    assert model.cluster == "demo"
    assert [b.id for b in model.brokers] == [1, 2, 3, 4]
    assert model.brokers[0].capacity["disk"] == 500000.0
    assert model.partitions[0].replicas == [1, 2, 3]
    assert model.partitions[0].leader == 1


def test_save_load_save_is_byte_identical(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    data = model_data(extra_key="ignored")
    data["brokers"][1].pop("rack")
    data["brokers"][2]["excluded"] = True
    data["brokers"][3]["decommission"] = True
    data["partitions"][0]["offline_replicas"] = [2]
    save_model(parse_model(data), first)
    save_model(load_model(first), second)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_text().endswith("}\n")
    assert "extra_key" not in first.read_text()
    assert [p.offline_replicas for p in load_model(first).partitions][:2] == [[2], []]


def test_a_saved_model_has_one_line_per_broker_and_partition_and_reads_back_as_written(tmp_path):
    path = tmp_path / "m.json"
    model = parse_model(model_data())
    save_model(model, path)
    lines = path.read_text().splitlines()
    entries = [line for line in lines if line.lstrip().startswith('{"')]
    assert len(entries) == len(model.brokers) + len(model.partitions)
    assert all(json.loads(line.rstrip(",")) for line in entries)
    assert json.loads(path.read_text()) == model_to_dict(model)


@pytest.mark.parametrize(
    "data",
    [
        {"a": [1, 2.5, "x\u00e9\n", None, True, [], {}, [[1], {"k": [2, {"z": -0.0}]}]], "b": {}, "c": []},
        {1: "int key", 2.5: "float key", False: "bool key", None: "null key", "n": {"m": {"o": [1e-300, 1e300]}}},
        [],
        {},
        "top-level scalar",
    ],
)
def test_document_text_reads_back_as_json_dumps_writes_it(data):
    text = document_text(data)
    assert text.endswith("\n")
    assert json.loads(text) == json.loads(json.dumps(data))
    assert document_text(json.loads(text)) == text  # byte-stable


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_document_text_refuses_non_finite_numbers(bad):
    with pytest.raises(ValueError):
        document_text({"a": [{"b": bad}]})
    with pytest.raises(ValueError):
        document_text({"a": bad})


def test_optional_keys_default():
    data = model_data()
    del data["follower_cpu_ratio"]
    del data["brokers"][0]["rack"]
    model = parse_model(data)
    assert model.follower_cpu_ratio == 0.3
    assert model.brokers[0].rack is None
    assert not model.brokers[0].excluded and not model.brokers[0].decommission
    assert "rack" not in model_to_dict(model)["brokers"][0]


def break_partition(key, value=None, delete=False, index=1):
    data = model_data()
    if delete:
        del data["partitions"][index][key]
    else:
        data["partitions"][index][key] = value
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (break_partition("leader", delete=True), "partitions[1] (orders-1): missing key 'leader'"),
        (break_partition("replicas", [2, 3, 9]), "partitions[1] (orders-1): replica on unknown broker 9"),
        (break_partition("replicas", [2, 3, 3]), "partitions[1] (orders-1): 'replicas' lists broker 3 twice"),
        (
            break_partition("load", {"disk": -1, "nw_in": 0, "nw_out": 0, "cpu": 0}),
            "partitions[1] (orders-1) load: 'disk' must be >= 0",
        ),
        (
            break_partition("load", {"disk": 1, "nw_in": "x", "nw_out": 0, "cpu": 0}),
            "partitions[1] (orders-1) load: 'nw_in' must be a finite number",
        ),
        (
            break_partition("load", {"disk": 1, "nw_out": 0, "cpu": 0}),
            "partitions[1] (orders-1) load: missing key 'nw_in'",
        ),
        (break_partition("leader", 1), "partitions[1] (orders-1): leader 1 is not one of the replicas"),
        (break_partition("offline_replicas", [1]), "partitions[1] (orders-1): offline replica 1 is not one of"),
        (break_partition("offline_replicas", [3]), "partitions[1] (orders-1): leader 3 is also listed in offline"),
        (break_partition("offline_replicas", 3), "partitions[1] (orders-1): 'offline_replicas' must be a list"),
        (break_partition("partition", 0), "partitions[1] (orders-0): duplicate partition orders-0"),
        (break_partition("replicas", []), "partitions[1] (orders-1): 'replicas' is empty"),
        (break_partition("partition", True), "partitions[1]: 'partition' must be an integer"),
        (model_data(format="other/v2"), "format is 'other/v2'"),
        (
            model_data(brokers=SPEC_EXAMPLE["brokers"] + SPEC_EXAMPLE["brokers"][:1]),
            "brokers[4] (id 1): duplicate broker id 1",
        ),
        (model_data(brokers=[{"id": 1, "alive": True}]), "brokers[0] (id 1): missing key 'capacity'"),
        (model_data(brokers=[{"id": 1, "capacity": {}}]), "brokers[0] (id 1): missing key 'alive'"),
        (model_data(brokers=[{"id": "1"}]), "brokers[0]: 'id' must be an integer"),
        (model_data(follower_cpu_ratio=2), "'follower_cpu_ratio' must be between 0 and 1"),
        (model_data(partitions={}), "cluster model: 'partitions' must be a list"),
        ([], "cluster model: expected an object"),
    ],
)
def test_invalid_models_name_the_entry(data, message):
    with pytest.raises(ModelError) as info:
        parse_model(data)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, MedicError)


def test_bad_json_names_file_and_position(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"format": "kafka-medic/cluster-model/v1",\n "cluster": }')
    with pytest.raises(ModelError, match=r"bad.json: invalid JSON at line 2 column 13"):
        load_model(path)


def test_file_errors_carry_the_file_name(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(break_partition("leader", delete=True)))
    with pytest.raises(ModelError, match=r"m.json: partitions\[1\] \(orders-1\): missing key 'leader'"):
        load_model(path)
    with pytest.raises(ModelError, match="cannot read"):
        load_model(tmp_path / "missing.json")


def test_arrays_compute_broker_load_by_role():
    arrays = ClusterArrays.from_model(parse_model(SPEC_EXAMPLE))
    load = arrays.broker_load()
    # broker 1 leads orders-0; broker 3 follows orders-0 and leads orders-1
    np.testing.assert_allclose(load[0], [1200.5, 800.0, 2400.0, 1.2])
    np.testing.assert_allclose(load[2], [1300.5, 880.0, 240.0, 1.2 * 0.3 + 0.5])
    assert arrays.topics == ["orders"]
    assert list(arrays.replica_start) == [0, 3, 6]
    assert arrays.leader.tolist() == [0, 2]


ODD_VALUES = [None, True, 1.0, -1, 2**31, "", "x", [], {}, float("nan"), float("inf"), 1e16, "orders\ud800"]
ODD_LISTS = {  # lists that are nearly right: ids that equal a broker's without being ints, repeats, strays
    "replicas": [[1.0, 2, 3], [1, 2, 3, 3], [2, 9, 3], [1, True, 3], [False, 2, 3], [1, "2", 3]],
    "offline_replicas": [[3.0], [3, 3], [True], [9], [2]],
}
_GOOD = {"topic": "orders", "partition": 3, "replicas": [1, 2, 3], "leader": 2, "offline_replicas": [3],
         "load": {"disk": 1.5, "nw_in": 0, "nw_out": 1e15, "cpu": 2}}
_ODD = {key: st.sampled_from(ODD_VALUES) for key in _GOOD}
_ODD |= {key: st.sampled_from(lists) | _ODD[key] for key, lists in ODD_LISTS.items()}
_ODD["leader"] |= st.sampled_from([3, 4])  # offline, not a replica
_ODD["load"] |= st.sampled_from([dict(_GOOD["load"], **{r: v}) for r in RESOURCES for v in ODD_VALUES])


@st.composite
def partition_entries(draw):
    """A valid partition entry with a sixth of its keys, on average, odd, and a quarter of the time one missing."""
    entry = copy.deepcopy(_GOOD)
    for key in _GOOD:
        if draw(st.integers(0, 5)) == 0:
            entry[key] = draw(_ODD[key])
    if draw(st.integers(0, 3)) == 0:
        del entry[draw(st.sampled_from(sorted(_GOOD)))]
    return entry


@settings(max_examples=3000, deadline=None)
@given(partition_entries() | st.sampled_from(ODD_VALUES))
def test_the_fast_check_of_a_partition_agrees_with_the_full_parse(entry):
    """`_valid_partition` (inline checks, the load's fast path) accepts exactly what `_parse_partition`
    accepts, with the same result; on anything else the full parse names what is wrong."""
    try:
        expected = _parse_partition(entry, 0, {1, 2, 3, 4})
    except ModelError:
        expected = None
    assert _valid_partition(entry, {1, 2, 3, 4}) == expected


def test_the_garbage_collector_is_paused_while_a_document_is_read_and_restored_after():
    import gc

    from kafka_medic.model.fields import bulk_objects

    assert gc.isenabled()
    with pytest.raises(ValueError), bulk_objects():
        assert not gc.isenabled()
        raise ValueError("a parse error")
    assert gc.isenabled()
    gc.disable()
    try:
        with bulk_objects():
            pass
        assert not gc.isenabled()  # a caller's own pause is left as it was
    finally:
        gc.enable()
