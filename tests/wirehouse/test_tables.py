"""Tables for people: fitted to a terminal in a stable order, in full with --wide, chosen columns."""

from __future__ import annotations

import pytest

from wirehouse.tables import Layout, format_rows, select_columns

COLUMNS = ["feed_url", "title", "state", "last_error", "articles"]
ROWS = [
    ("https://www.example.org/" + "a" * 50 + "/rss", "A long title " * 4, "active", "timed out " * 8, 12),
    ("https://b.example/rss", "B", "retired: 410 Gone", "", 3),
]
PRIORITY = ("feed_url", "state", "articles", "title")  # last_error is not ranked: it gives way first


def test_a_table_fits_its_width_and_the_least_important_column_gives_way_first():
    out = format_rows(COLUMNS, ROWS, "table", Layout(width=120, priority=PRIORITY))
    lines = out.splitlines()
    assert max(map(len, lines)) <= 120
    assert lines[0].split() == COLUMNS  # every column still there, each at least half as wide
    assert lines[2].split("  ")[0] == "https://www.example.org/aaaaaaaaaaaaaaaa…"
    assert "timed out timed out timed out…" in lines[2] and "https://b.example/rss" in lines[3]
    assert out == format_rows(COLUMNS, ROWS, "table", Layout(width=120, priority=PRIORITY))  # stable


def test_a_table_too_wide_even_shrunk_hides_columns_and_says_so():
    out = format_rows(COLUMNS, ROWS, "table", Layout(width=60, priority=PRIORITY))
    lines = out.splitlines()
    assert max(map(len, lines)) <= 60
    assert lines[0].split() == ["feed_url", "state", "articles"]
    assert lines[-1] == "(2 rows; hidden: title, last_error; --wide shows all)"
    narrow = format_rows(COLUMNS, ROWS, "table", Layout(width=44, priority=PRIORITY)).splitlines()
    assert narrow[-1] == "(2 rows; 3 columns hidden: --wide shows all)"


def test_wide_shows_every_cell_in_full():
    out = format_rows(COLUMNS, ROWS, "table", Layout(width=40, wide=True))
    assert ROWS[0][3].strip() in out and "…" not in out
    assert "…" in format_rows(COLUMNS, ROWS, "table")  # without a layout: cells cut at 60, as before


def test_columns_are_chosen_by_name_in_the_order_given():
    columns, rows = select_columns(COLUMNS, ROWS, ["articles", "feed_url"])
    assert columns == ["articles", "feed_url"] and rows[1] == (3, "https://b.example/rss")
    with pytest.raises(ValueError, match="no column 'nope'; the columns are feed_url, title, state"):
        select_columns(COLUMNS, ROWS, ["nope"])
