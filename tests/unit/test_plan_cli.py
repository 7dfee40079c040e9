"""`kafka-medic plan` and `kafka-medic check` on model files."""

from __future__ import annotations

import json

import pytest

from kafka_medic.cli import main
from kafka_medic.model import Partition, load_proposal, save_model

from .test_goals import cluster, even, load


def model_file(tmp_path, **kw):
    path = tmp_path / "model.json"
    save_model(cluster(even(disk=50), **kw), path)
    return path


def test_plan_prints_a_summary_and_writes_the_proposal(tmp_path, capsys):
    out = tmp_path / "proposal.json"
    assert (
        main(["plan", "--model", str(model_file(tmp_path, flags={4: {"alive": False}})), "-o", str(out)]) == 0
    )
    text = capsys.readouterr().out
    assert "replica moves" in text and "Balancedness" in text and f"Proposal written to {out}" in text
    proposal = load_proposal(out)
    assert proposal.moves and all(4 not in m.new_replicas for m in proposal.moves)


def test_plan_json_and_goal_options(tmp_path, capsys):
    path = model_file(tmp_path)
    assert main(["plan", "-m", str(path), "--json", "--goals", "rack_aware,disk_capacity"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["format"] == "kafka-medic/proposal/v1" and data["goals"] == ["rack_aware", "disk_capacity"]


def test_plan_heal_only_moves_just_the_dead_brokers_replicas(tmp_path, capsys):
    parts = [Partition("t", i, [1 + i % 2, 4], 1 + i % 2, load(disk=40)) for i in range(4)]
    parts += [Partition("u", i, [1 + i % 2, 3], 1 + i % 2, load(disk=40)) for i in range(12)]  # 1, 2 crowded
    path = tmp_path / "dead.json"
    save_model(cluster(parts, brokers=5, flags={4: {"alive": False}}), path)
    runs = {}
    for flags in ([], ["--heal-only"]):
        assert main(["plan", "-m", str(path), "--json", *flags]) == 0
        runs[bool(flags)] = json.loads(capsys.readouterr().out)
    assert runs[False]["stats"]["num_replica_moves"] > 4
    healed = runs[True]
    assert healed["stats"]["num_replica_moves"] == 4 and healed["stats"]["options"]["heal_only"] is True
    assert all(set(m["old_replicas"]) - set(m["new_replicas"]) <= {4} for m in healed["moves"])


def test_plan_that_cannot_meet_a_hard_goal_exits_2_naming_it(tmp_path, capsys):
    path = tmp_path / "full.json"
    save_model(cluster([Partition("t", i, [b], b, load(disk=900)) for i, b in enumerate((1, 2, 3, 4))]), path)
    assert main(["plan", "-m", str(path)]) == 2
    assert "hard goal disk_capacity cannot be met" in capsys.readouterr().err


def test_capacity_threshold_option(tmp_path, capsys):
    path = tmp_path / "full.json"
    save_model(cluster([Partition("t", i, [b], b, load(disk=850)) for i, b in enumerate((1, 2, 3, 4))]), path)
    assert main(["plan", "-m", str(path), "--capacity-threshold", "disk=0.9"]) == 0
    assert main(["plan", "-m", str(path), "--capacity-threshold", "ram=0.9"]) == 2
    assert "resource must be one of" in capsys.readouterr().err


def test_check_lists_violations_and_exits_1_on_hard_ones(tmp_path, capsys):
    assert main(["check", "-m", str(model_file(tmp_path))]) == 0
    assert main(["check", "-m", str(model_file(tmp_path, flags={2: {"alive": False}}))]) == 1
    text = capsys.readouterr().out
    assert "VIOLATED" in text and "broker 2 (dead) still holds" in text
    assert main(["check", "-m", str(model_file(tmp_path)), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["goal"] == "rack_aware"


def test_bad_model_file_is_one_line_error(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text("{")
    assert main(["check", "-m", str(path)]) == 2
    assert "bad.json: invalid JSON at line 1" in capsys.readouterr().err


@pytest.mark.parametrize(("option", "message"), [
    (["--balance-band", "0.9"], "--balance-band '0.9': expected LOW,HIGH around the mean, e.g. 0.9,1.1"),
    (["--balance-band", "0.9,0.95"], "--balance-band '0.9,0.95': expected LOW <= 1 <= HIGH, e.g. 0.9,1.1"),
    (["--balance-band", "x,1.1"], "--balance-band 'x,1.1': 'x' is not a number"),
    (["--capacity-threshold", "ram=0.5"], "--capacity-threshold 'ram=0.5': resource must be one of"),
    (["--exclude-topics", "["], "excluded topics: invalid regex '['"),
    (["--only-move-to", "99"], "only_move_to names unknown broker 99"),
    (["--decommission", "9"], "--decommission: unknown broker 9; the cluster has [1, 2, 3, 4]"),
    (["--exclude-brokers", "1,7"], "--exclude-brokers: unknown broker 7; the cluster has [1, 2, 3, 4]"),
])
def test_a_bad_option_is_one_line_naming_it_and_nothing_is_planned(tmp_path, capsys, option, message):
    out = tmp_path / "proposal.json"
    assert main(["plan", "-m", str(model_file(tmp_path)), "-o", str(out), *option]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"kafka-medic: error: {message}") and "\n" not in err, err
    assert not out.exists()


def test_decommission_empties_the_brokers_and_excluded_ones_receive_nothing(tmp_path, capsys):
    path = model_file(tmp_path)
    assert main(["plan", "-m", str(path), "--json", "--decommission", "2", "--exclude-brokers", "3"]) == 0
    moves = json.loads(capsys.readouterr().out)["moves"]
    before = {(m["topic"], m["partition"]): m["old_replicas"] for m in moves}
    assert sum(2 in r for r in before.values()) == sum(2 in p.replicas for p in cluster(even(disk=50)).partitions)
    assert not [m for m in moves if 2 in m["new_replicas"]]
    assert not [m for m in moves if 3 in set(m["new_replicas"]) - set(m["old_replicas"])]
