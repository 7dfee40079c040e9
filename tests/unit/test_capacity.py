import json

import pytest

from kafka_medic.capacity import DEFAULT_CAPACITY, load_capacities, parse_capacities
from kafka_medic.errors import MedicError

DEFAULT = {"disk": 1000, "nw_in": 100, "nw_out": 200, "cpu": 100}


def test_broker_entry_overrides_default_and_sums_log_dirs(tmp_path):
    path = tmp_path / "capacity.json"
    path.write_text(json.dumps({"default": DEFAULT, "3": {"disk": {"/a": 300, "/b": 200.5}, "nw_in": 50}}))
    caps = load_capacities(path)
    three = caps.for_broker(3)
    assert (three.disk, three.nw_in, three.nw_out, three.cpu) == (500.5, 50.0, 200.0, 100.0)
    assert three.disk_by_logdir == {"/a": 300.0, "/b": 200.5}
    assert caps.for_broker(7).as_dict() == {k: float(v) for k, v in DEFAULT.items()}


def test_no_file_gives_built_in_default():
    assert load_capacities(None).for_broker(1).as_dict() == DEFAULT_CAPACITY


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "expected an object"),
        ({"1": DEFAULT}, "'default' entry is missing"),
        ({"default": {"disk": 1, "cpu": 1}}, "entry 'default' lacks nw_in, nw_out"),
        ({"default": DEFAULT, "broker-2": {}}, "entry 'broker-2' is neither 'default' nor a broker id"),
        ({"default": DEFAULT, "2": {"mem": 3}}, "entry '2' has unknown key(s) mem"),
        ({"default": DEFAULT, "2": {"nw_out": -5}}, "entry '2': nw_out must be a positive number, got -5"),
        ({"default": DEFAULT, "2": {"disk": {"/d": "big"}}}, "entry '2': disk of log dir '/d' must be"),
        ({"default": DEFAULT, "2": {"disk": {}}}, "entry '2' has an empty disk map"),
        ({"default": {**DEFAULT, "cpu": 800}}, "entry 'default': cpu is percent of the broker, at most 100"),
        ({"default": DEFAULT, "4": {"cpu": True}}, "entry '4': cpu must be a positive number, got True"),
    ],
)
def test_invalid_entries_are_named(data, message):
    with pytest.raises(MedicError) as raised:
        parse_capacities(data, "cap.json")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_unreadable_file(tmp_path):
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(MedicError, match="is not JSON"):
        load_capacities(tmp_path / "bad.json")
    with pytest.raises(MedicError, match="cannot read capacity file"):
        load_capacities(tmp_path / "missing.json")
