"""wirehouse.connect(): the lake for notebooks, attached with its views, read-only, at any snapshot."""

from __future__ import annotations

import duckdb
import pytest

import wirehouse
from tests.warehouse.test_articles import art
from warehouse.articles import store_articles
from warehouse.connection import open_warehouse


def test_connect_opens_the_settings_warehouse_read_only_and_at_a_snapshot(warehouse_path, monkeypatch):
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [art(1)], "r1")
        first = con.execute("select max(snapshot_id) from snapshots()").fetchone()[0]
        store_articles(con, [art(2)], "r2")
    monkeypatch.setenv("WIREHOUSE_WAREHOUSE", str(warehouse_path))
    con = wirehouse.connect()
    try:
        assert con.execute("select count(*) from articles").fetchone()[0] == 2
        assert con.execute("select count(*) from news.quotes").fetchone()[0] == 0
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("delete from article_store")
    finally:
        con.close()
    old = wirehouse.connect(warehouse_path, as_of=first)
    try:
        assert old.execute("select url from articles").fetchall() == [("https://x.example/1",)]
    finally:
        old.close()


def test_connect_from_another_folder_says_how_to_point_at_the_lake(tmp_path, monkeypatch):
    from warehouse.connection import WarehouseError

    monkeypatch.chdir(tmp_path)  # a notebook's folder, with no warehouse/ below it
    with pytest.raises(WarehouseError) as caught:
        wirehouse.connect()
    message = str(caught.value)
    assert message.startswith("warehouse warehouse/news.sqlite does not exist")
    assert str(tmp_path / "warehouse" / "news.sqlite") in message
    assert "wirehouse.connect('/path/to/warehouse/news.sqlite')" in message
    assert "WIREHOUSE_WAREHOUSE=" in message
