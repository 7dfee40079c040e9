"""Changing a running execution's throttle and concurrency (`executor.run.change_options`) on a SQLite journal."""

from __future__ import annotations

import pytest

from kafka_medic.errors import MedicError
from kafka_medic.executor.journal import Journal
from kafka_medic.executor.options import ExecutionOptions
from kafka_medic.executor.run import change_options
from kafka_medic.units import MB

from .test_executor_journal import PROPOSAL, TASKS


@pytest.fixture
def journal(tmp_path):
    journal = Journal(f"sqlite:///{tmp_path / 'store.db'}")
    yield journal
    journal.close()


def test_the_running_execution_gets_the_new_options_in_the_journal(journal):
    execution_id = journal.create("c", PROPOSAL, ExecutionOptions(auto_throttle=True, strategy=("small_first",)), TASKS)
    lines: list[str] = []
    options = change_options("c", throttle=5 * MB, concurrency=3, journal=journal, log=lines.append)
    recorded = journal.get(execution_id).options
    assert recorded == options
    assert (recorded.throttle, recorded.auto_throttle, recorded.concurrency) == (5 * MB, False, 3)
    assert recorded.strategy == ("small_first",)  # the rest kept
    assert "throttle 5 MB/s, concurrency 3 per broker" in lines[0] and execution_id in lines[0]
    change_options("c", concurrency=1, execution_id=execution_id, journal=journal, log=lines.append)
    assert (journal.get(execution_id).options.throttle, journal.get(execution_id).options.concurrency) == (5 * MB, 1)


@pytest.mark.parametrize(("throttle", "concurrency", "message"), [
    (float("nan"), None, "throttle must be positive bytes/s, got nan"),
    (float("inf"), None, "throttle must be positive bytes/s, got inf"),
    (-1.0, None, "throttle must be positive bytes/s, got -1.0"),
    (None, 0, "concurrency must be at least 1 move per broker, got 0"),
    (None, None, "give a throttle, a concurrency or both"),
])
def test_bad_values_are_refused_and_nothing_changes(journal, throttle, concurrency, message):
    execution_id = journal.create("c", PROPOSAL, ExecutionOptions(throttle=MB), TASKS)
    with pytest.raises(MedicError, match=message):
        change_options("c", throttle=throttle, concurrency=concurrency, journal=journal, log=print)
    assert journal.get(execution_id).options == ExecutionOptions(throttle=MB)


def test_only_a_running_execution_of_that_cluster_is_changed(journal):
    with pytest.raises(MedicError, match="no execution is running on cluster 'c'"):
        change_options("c", concurrency=2, journal=journal)
    execution_id = journal.create("c", PROPOSAL, ExecutionOptions(), TASKS)
    with pytest.raises(MedicError, match="is on cluster 'c', not 'other'"):
        change_options("other", concurrency=2, execution_id=execution_id, journal=journal)
    journal.finish(execution_id, "succeeded", None, {})
    with pytest.raises(MedicError, match="has already finished: succeeded"):
        change_options("c", concurrency=2, execution_id=execution_id, journal=journal)
