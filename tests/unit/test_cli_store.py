"""`kafka-medic store`: upgrade, downgrade, current and history as tables and JSON; bad targets in one line."""

from __future__ import annotations

import json

import pytest

from kafka_medic import store_schema
from kafka_medic.cli import main

from ..store_revisions import (
    as_before,
    assert_added_tables_as_revisions_fill_them,
    previous_release_store,
    table_rows,
    unreplaced,
)


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'store.db'}"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_upgrade_brings_the_previous_releases_store_to_head_and_says_from_where(url, capsys):
    previous_release_store(url)
    rows = table_rows(url)
    assert json.loads(run(capsys, "store", "current", "--store", url, "--json")[1])["current"] is None
    code, out, _ = run(capsys, "store", "upgrade", "--store", url, "--json")
    head = store_schema.head()
    assert code == 0 and json.loads(out) | {"store": None} == {"store": None, "before": None, "after": head,
                                                                "head": head}  # fmt: skip
    after = table_rows(url)
    assert as_before(after, rows) == unreplaced(rows)
    assert_added_tables_as_revisions_fill_them(after, rows)
    code, out, _ = run(capsys, "store", "upgrade", "--store", url)
    assert code == 0 and out.splitlines()[0].split() == ["store", "before", "after", "head"]
    assert out.splitlines()[1].split()[1:] == [head, head, head]
    assert run(capsys, "store", "current", "--store", url)[1].splitlines()[1].split()[1:] == [head, head]


def test_downgrade_to_base_drops_the_tables_and_refuses_to_go_up(url, capsys):
    run(capsys, "store", "upgrade", "--store", url)
    code, _, err = run(capsys, "store", "upgrade", "--store", url, "--to", "base")
    head = store_schema.head()
    assert code == 2 and err == (f"kafka-medic: error: the store is at {head}; base is not an upgrade target from "
                                 "there (use `kafka-medic store downgrade --to base`)\n")  # fmt: skip
    code, out, _ = run(capsys, "store", "downgrade", "--store", url, "--to", "base", "--json")
    assert code == 0 and (json.loads(out)["before"], json.loads(out)["after"]) == (head, None)
    assert table_rows(url) == {}


def test_a_bad_target_or_an_unreachable_store_is_one_line(url, capsys):
    code, _, err = run(capsys, "store", "upgrade", "--store", url, "--to", "9999")
    assert code == 2 and err.startswith(
        "kafka-medic: error: unknown store schema revision '9999'; valid: head, base, 0001, 0002")
    code, _, err = run(capsys, "store", "current", "--store", "postgresql://medic:secret@127.0.0.1:1/store")
    assert code == 2 and err.startswith("kafka-medic: error: the store in postgresql://medic:***@127.0.0.1:1/store "
                                        "failed: connection failed") and err.count("\n") == 1  # fmt: skip
    assert "secret" not in err


def test_history_lists_every_revision(capsys):
    code, out, _ = run(capsys, "store", "history", "--json")
    revisions = [r["revision"] for r in json.loads(out)]
    assert code == 0 and revisions[0] == "0001" and revisions[-1] == store_schema.head() and len(set(revisions)) > 1
    table = run(capsys, "store", "history")[1].splitlines()
    assert table[0].split() == ["revision", "after", "doc"] and table[1].split()[:3] == ["0001", "base", "Baseline:"]
