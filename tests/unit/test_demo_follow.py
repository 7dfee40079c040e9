"""`kafka-medic demo` follows a heal run that re-planned to the run that re-planned it, not to its success."""

from __future__ import annotations

from kafka_medic.airflow import ids
from kafka_medic.cli import demo


class FakeAirflow:
    """Heal runs that have ended: each with its task states and the conf it was started with."""

    url = "http://localhost:8080"

    def __init__(self, runs: dict[str, tuple[dict, dict[str, str]]]) -> None:
        self._runs = runs

    def runs(self, dag_id: str) -> list[dict]:
        return [{"dag_run_id": run_id, "conf": conf} for run_id, (conf, _) in self._runs.items()]

    def awaiting_input(self, dag_id: str, run_id: str, task_id: str) -> bool:
        return True

    def call(self, method: str, path: str) -> dict:
        return {"state": "success"}

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        return self._runs[run_id][1]


STALE = {ids.CHECK_PLAN: "skipped", ids.REPLAN: "success", "execute_batches": "skipped"}
HEALED = {ids.CHECK_PLAN: "success", ids.REPLAN: "skipped", "execute_batches": "success"}


def test_a_stale_plan_is_followed_to_the_run_that_plans_again(capsys):
    airflow = FakeAirflow({"a": ({}, STALE), "b": ({ids.REPLAN_OF: "a", ids.REPLANS: 1}, STALE),
                           "c": ({ids.REPLAN_OF: "b", ids.REPLANS: 2}, HEALED)})
    assert demo.follow_heal(airflow, "a") == ("c", "success", HEALED)
    out = capsys.readouterr().out
    assert out.count("APPROVE NOW:") == 3 and "/runs/c/tasks/approve/" in out
    assert "heal run a: the plan no longer fitted the cluster" in out and "run b plans again" in out


def test_a_run_that_executed_is_the_outcome(capsys):
    airflow = FakeAirflow({"a": ({}, HEALED), "b": ({ids.REPLAN_OF: "x"}, STALE)})
    assert demo.follow_heal(airflow, "a") == ("a", "success", HEALED)
    assert capsys.readouterr().out.count("APPROVE NOW:") == 1
