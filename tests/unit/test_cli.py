"""The CLI loads only the module of the command it runs, so its command table must match the modules."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

from kafka_medic.cli import COMMANDS


def registered_by(module: str) -> set[str]:
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    importlib.import_module(module).register(subparsers)
    return set(subparsers.choices)


def test_the_command_table_names_each_command_with_the_module_that_registers_it():
    for module in set(COMMANDS.values()):
        assert registered_by(module) == {c for c, m in COMMANDS.items() if m == module}, module


def test_a_light_command_does_not_load_the_planner_or_the_store():
    code = ("import sys; from kafka_medic.cli import build_parser; build_parser('dev-cluster'); "
            "print(sorted(m for m in ('numpy', 'sqlalchemy', 'pandas') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_a_proposal_for_another_cluster_is_refused_before_anything_connects(tmp_path, capsys):
    from kafka_medic.cli import main
    from kafka_medic.model import Move, Proposal, save_proposal

    path = tmp_path / "proposal.json"
    save_proposal(Proposal("prod-eu", [], [Move("t", 0, [1, 2], [3, 2], 1, 3)], {}), path)
    assert main(["execute", "--bootstrap", "127.0.0.1:1", "--proposal", str(path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"kafka-medic: error: {path} was planned for cluster 'prod-eu', not 'dev': "
        "give --cluster prod-eu (with its --bootstrap) to execute it there"
    )


def test_a_malformed_proposal_is_refused_even_with_no_cluster_to_run_on(tmp_path, capsys, monkeypatch):
    from kafka_medic.cli import main

    monkeypatch.setenv("KAFKA_MEDIC_HOME", str(tmp_path))  # no dev cluster runs here
    path = tmp_path / "proposal.json"
    path.write_text('{"cluster": "dev", "moves": [')
    assert main(["execute", "--proposal", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"kafka-medic: error: {path}: invalid JSON") and "\n" not in err, err


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path):
    """As `kafka-medic plan | head -1` does: the pipe's reader is gone before the first line is written."""
    from kafka_medic.model import save_model
    from kafka_medic.synthetic import Scenario, synthetic_model

    model = tmp_path / "model.json"
    save_model(synthetic_model(Scenario(brokers=6, partitions=300)), model)
    proc = subprocess.Popen([sys.executable, "-m", "kafka_medic.cli", "plan", "--model", str(model)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    assert (proc.stderr.read(), proc.wait()) == ("", 1)
