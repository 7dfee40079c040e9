"""Bad option values and damaged files at the CLI entry point: exit 2, one line on stderr, no traceback.

kafka_medic.cli.main runs in-process; every case fails before any cluster or store is touched.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kafka_medic.cli import main

from .test_model_files import SPEC_EXAMPLE

OPTIONS = [
    ["execute", "--proposal", "p.json", "--throttle", "nan"],
    ["execute", "--proposal", "p.json", "--throttle", "inf"],
    ["execute", "--proposal", "p.json", "--poll", "nan"],
    ["execute", "--proposal", "p.json", "--stall-alert", "inf"],
    ["execute", "--proposal", "p.json", "--task-timeout", "-1"],
    ["execute", "--proposal", "p.json", "--throttle-interval", "0"],
    ["executions", "--limit", str(10**30)],
    ["load", "--window", "0"],
    ["load", "--window", "nan"],
    ["load", "--windows", "0"],
    ["load", "--min-valid-ratio", "2"],
    ["plan", "--model", "MODEL", "--seed", "-1"],
    ["plan", "--model", "MODEL", "--balance-band", "nan,nan"],
    ["plan", "--model", "MODEL", "--balance-band", "1,inf"],
    ["plan", "--model", "MODEL", "--capacity-threshold", "disk=nan"],
]


def run(argv, capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage error
        code = exc.code
    err = capsys.readouterr().err
    return code, err


def assert_one_line_error(code, err):
    assert code == 2, err
    last = err.rstrip("\n").splitlines()[-1]
    assert "Traceback" not in err and (last.startswith("kafka-medic: error: ") or ": error: argument " in last)
    if last.startswith("kafka-medic: error: "):
        assert err.count("\n") == 1


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(SPEC_EXAMPLE))
    return str(path)


@pytest.mark.parametrize("argv", OPTIONS, ids=" ".join)
def test_meaningless_option_values_are_refused(argv, model, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.json").write_text("{}")
    code, err = run([model if a == "MODEL" else a for a in argv], capsys)
    assert_one_line_error(code, err)
    assert argv[-2] in err  # refused for the option, not for the (empty) proposal file


NUMBERS = st.sampled_from(["nan", "inf", "-inf", "0", "-1", "1e400", "-0", str(10**30), "1e-400", "", "x", "0x10"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(["--poll", "--stall-alert", "--task-timeout", "--throttle-interval", "--throttle"]),
       value=NUMBERS)
def test_property_execute_options(option, value, capsys, tmp_path):
    proposal = tmp_path / "missing.json"
    code, err = run(["execute", "--proposal", str(proposal), f"{option}={value}"], capsys)
    assert_one_line_error(code, err)
    assert f"argument {option}:" in err


def damage(text: str, data) -> str:
    kind = data.draw(st.sampled_from(["truncate", "replace", "insert", "deep", "bigint"]))
    if kind == "truncate":
        return text[: data.draw(st.integers(0, len(text)))]
    if kind == "deep":
        return "[" * data.draw(st.integers(30, 50_000)) + text
    position = data.draw(st.integers(0, len(text) - 1))
    if kind == "bigint":
        return text.replace(": 1,", f": {data.draw(st.sampled_from([2**31, 2**63, 10**30, 10**400]))},", 1)
    junk = data.draw(st.sampled_from(['"\\ud800"', "1e400", "NaN", "-1", "null", "[]", "{}", "\x00", "\xff", "9" * 30]))
    cut = position + (1 if kind == "replace" else 0)
    return text[:position] + junk + text[cut:]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_property_damaged_models_are_refused_in_one_line(data, capsys, tmp_path):
    path = tmp_path / "damaged.json"
    text = damage(json.dumps(SPEC_EXAMPLE), data)
    path.write_bytes(text.encode("utf-8", "surrogatepass") if "\x00" not in text else text.encode())
    try:
        code = main(["plan", "--model", str(path), "--output", str(tmp_path / "out.json")])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    if code != 0:  # some damage leaves a valid model (e.g. a changed load)
        assert_one_line_error(code, err)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_property_damaged_proposals_are_refused_in_one_line(data, capsys, tmp_path):
    proposal = {"format": "kafka-medic/proposal/v1", "cluster": "demo", "goals": ["rack_aware"], "stats": {},
                "moves": [{"topic": "orders", "partition": 1, "old_replicas": [1, 2, 3], "new_replicas": [4, 2, 3],
                           "old_leader": 1, "new_leader": 4}]}
    path = tmp_path / "damaged.json"
    path.write_text(damage(json.dumps(proposal), data), errors="surrogatepass")
    code, err = run(["execute", "--proposal", str(path), "--bootstrap", "127.0.0.1:1", "--dry-run"], capsys)
    if code != 0:
        assert_one_line_error(code, err)
