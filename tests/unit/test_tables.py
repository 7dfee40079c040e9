"""tables.printable: names from clusters and model files are shown, never obeyed by the terminal."""

from __future__ import annotations

import pytest

from kafka_medic.tables import format_table, printable


@pytest.mark.parametrize(("text", "shown"), [
    ("orders", "orders"),
    ("a b", "a b"),
    ("\x1b[2Jx", "\\x1b[2Jx"),
    ("a\nb\tc\rd", "a\\nb\\tc\\rd"),
    ("\x9b31m", "\\x9b31m"),
    ("x\u202ey\u2028", "x\\u202ey\\u2028"),
    ("lone\ud800", "lone\\ud800"),
    ("tür-ß", "tür-ß"),
])
def test_printable_escapes_what_a_terminal_would_act_on(text, shown):
    assert printable(text) == shown
    assert printable(text).encode("utf-8")


def test_table_cells_and_headers_are_printable():
    table = format_table([("or\x1b[31mders", 1.5)], ["topic\n", "load"])
    assert "\x1b" not in table and table.count("\n") == 1
    assert "or\\x1b[31mders" in table and "topic\\n" in table
