import duckdb
import pytest

import warehouse
from warehouse import list_migrations, migrate


def test_migrations_are_numbered_and_apply_once(tmp_path):
    versions = [v for v, _, _ in list_migrations()]
    assert versions == sorted(versions) and versions[0] == 1
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert migrate(con) == versions
    assert migrate(con) == []
    assert {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_type = 'VIEW'"
        ).fetchall()
    } >= {"articles", "feed_fetches"}


def test_bad_migration_file_names_are_rejected(tmp_path):
    (tmp_path / "1_x.sql").write_text("select 1")
    with pytest.raises(ValueError, match="001_name"):
        list_migrations(tmp_path)


def test_a_failing_migration_rolls_back(tmp_path):
    (tmp_path / "001_ok.sql").write_text("create table a (x int);")
    (tmp_path / "002_bad.sql").write_text("create table b (x int); this is not sql;")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    with pytest.raises(duckdb.Error):
        migrate(con, tmp_path)
    assert [r[0] for r in con.execute("select version from schema_migrations").fetchall()] == [1]
    assert (
        con.execute("select count(*) from information_schema.tables where table_name = 'b'").fetchone()[0]
        == 0
    )


def test_example_queries_exist_and_parse(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    migrate(con)
    paths = sorted(warehouse.QUERIES_DIR.glob("*.sql"))
    assert len(paths) >= 5
    for path in paths:
        con.execute(path.read_text())  # runs against an empty warehouse without error
