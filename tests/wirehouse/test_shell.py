"""`wirehouse shell` and `wirehouse attach-sql`: the lake in DuckDB's own command line and in one's own DuckDB.

Real lakes, the real duckdb-cli 1.5.5 binary, real processes; stdin is piped, so the shell runs
non-interactively.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.warehouse.test_articles import art
from tests.wirehouse.test_cli import ROOT, assert_one_line_error, wirehouse
from warehouse.articles import store_articles
from warehouse.connection import open_warehouse, warehouse_lock
from wirehouse.shell import cli_binary

COUNT = "select count(*) as n from articles"


@pytest.fixture
def lake(warehouse_path):
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [art(1), art(2, language="fr"), art(3, language="de")], "r")
    return warehouse_path


def shell(*args, stdin: str, env=None):
    return subprocess.run(
        [sys.executable, "-m", "wirehouse.cli", "shell", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def query_count(lake: Path) -> int:
    result = wirehouse("query", COUNT, "--format", "json", "--warehouse", str(lake))
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout)[0]["n"])


def attach_sql(lake: Path, *extra: str) -> str:
    result = wirehouse("attach-sql", "--warehouse", str(lake), *extra)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def test_attach_sql_names_the_version_the_absolute_extension_files_and_attaches_read_only(lake):
    text = attach_sql(lake)
    lines = text.splitlines()
    assert lines[0].startswith("-- needs DuckDB 1.5.5") and "pip install duckdb==1.5.5" in lines[0]
    assert "duckdb-cli==1.5.5" in lines[0]
    loads = [line for line in lines if line.startswith("LOAD ")]
    assert len(loads) == 2
    for line in loads:
        path = Path(line.removeprefix("LOAD '").removesuffix("';"))
        assert path.is_absolute() and path.is_file() and "v1.5.5" in path.parts
    attach = next(line for line in lines if line.startswith("ATTACH "))
    assert f"'ducklake:sqlite:{lake.absolute()}' AS news" in attach and "READ_ONLY" in attach
    assert lines[-1] == "USE news;"
    assert "READ_ONLY" not in attach_sql(lake, "--write")


def test_attach_sql_pasted_into_the_duckdb_cli_counts_what_wirehouse_query_counts(lake):
    script = attach_sql(lake) + ".mode csv\n" + COUNT + ";\n"
    result = subprocess.run(
        [str(cli_binary())], input=script, capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["n", "3"]
    assert query_count(lake) == 3


def test_attach_sql_run_by_python_duckdb_counts_what_wirehouse_query_counts(lake):
    assert duckdb.__version__ == "1.5.5"
    con = duckdb.connect()
    try:
        con.execute(attach_sql(lake))
        assert con.execute(COUNT).fetchone() == (query_count(lake),)
        # Every view of the public contract, and the quotes table, is there to query.
        for name in ("articles", "feed_fetches", "stories", "failures", "quotes"):
            con.execute(f"select count(*) from {name}").fetchone()
    finally:
        con.close()


def test_shell_with_a_piped_query_prints_what_wirehouse_query_counts(lake):
    result = shell("--warehouse", str(lake), stdin=f".mode csv\n{COUNT};\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["n", str(query_count(lake))]
    assert result.stderr == ""


def test_shell_has_the_views_and_quotes_ready(lake):
    sql = "".join(
        f"select '{name}' as name, count(*) as n from {name};\n"
        for name in ("articles", "feed_fetches", "stories", "failures", "quotes")
    )
    result = shell("--warehouse", str(lake), stdin=".mode csv\n.headers off\n" + sql)
    assert result.returncode == 0, result.stderr
    counts = dict(line.split(",") for line in result.stdout.split())
    assert counts["articles"] == "3" and set(counts) == {
        "articles",
        "feed_fetches",
        "stories",
        "failures",
        "quotes",
    }


def test_the_shell_is_read_only_unless_asked_to_write(lake):
    create = "create table notes as select 42 as answer;\n"
    refused = shell("--warehouse", str(lake), stdin=create)
    assert refused.returncode != 0
    assert "read-only" in refused.stderr
    missing = wirehouse("query", "select * from notes", "--warehouse", str(lake))
    assert missing.returncode != 0 and "notes" in missing.stderr

    written = shell("--write", "--warehouse", str(lake), stdin=create)
    assert written.returncode == 0, written.stderr
    found = wirehouse("query", "select answer from notes", "--format", "json", "--warehouse", str(lake))
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == [{"answer": 42}]


def test_a_writing_shell_never_writes_under_a_running_ingest(lake):
    with warehouse_lock(lake, timeout=1.0):  # what an ingest holds for its whole run
        busy = shell("--write", "--warehouse", str(lake), stdin="select 1;\n")
        assert_one_line_error(busy, "an ingest is writing warehouse")
        reading = shell("--warehouse", str(lake), stdin=f".mode csv\n{COUNT};\n")
        assert reading.returncode == 0 and reading.stdout.split() == ["n", "3"]


def test_a_writing_shell_holds_the_run_lock_until_it_ends(lake):
    from warehouse.connection import WarehouseBusyError

    proc = subprocess.Popen(
        [sys.executable, "-m", "wirehouse.cli", "shell", "--write", "--warehouse", str(lake)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        proc.stdin.write(".mode csv\nselect 'ready' as state;\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "state\n" and proc.stdout.readline() == "ready\n"
        with pytest.raises(WarehouseBusyError), warehouse_lock(lake, timeout=0.0):
            pytest.fail("an ingest got the lock while the shell could write")
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        proc.wait()
    with warehouse_lock(lake, timeout=0.0):
        pass  # free again once the shell ended


@pytest.mark.parametrize("command", ["shell", "attach-sql"])
def test_no_lake_at_the_path_is_one_line_and_a_non_zero_exit(tmp_path, command):
    result = subprocess.run(
        [sys.executable, "-m", "wirehouse.cli", command, "--warehouse", str(tmp_path / "none.sqlite")],
        input="select 1;\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert_one_line_error(result, "does not exist")
    assert result.stdout == ""
    assert not (tmp_path / "none.sqlite").exists()


def test_a_missing_duckdb_command_line_is_one_line_naming_the_package(lake, tmp_path):
    # A duckdb_cli package without its executable (a broken or partial install) comes first on the path.
    broken = tmp_path / "site" / "duckdb_cli"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("")
    path = os.pathsep.join([str(tmp_path / "site"), str(ROOT)])
    result = shell("--warehouse", str(lake), stdin="select 1;\n", env={"PYTHONPATH": path})
    assert_one_line_error(result, "the DuckDB command line is missing")
    assert "pip install duckdb-cli==1.5.5" in result.stderr


SECRET = "hunter2-not-shown"


@pytest.fixture
def pg_lake(postgres_catalog, tmp_path, monkeypatch):
    """A lake with a PostgreSQL catalog holding three articles; the address names a password.

    The test cluster trusts every local connection, so the password is never checked: what is
    checked is where it goes.
    """
    monkeypatch.setenv("WIREHOUSE_DATA_PATH", str(tmp_path / "data") + os.sep)
    with open_warehouse(postgres_catalog, migrate=True) as con:
        store_articles(con, [art(1), art(2, language="fr"), art(3, language="de")], "r")
    return f"{postgres_catalog} password={SECRET}"


def test_attach_sql_on_a_postgres_catalog_leaves_the_password_out_and_says_how_to_give_it(pg_lake):
    text = attach_sql(pg_lake)
    assert SECRET not in text
    assert "PGPASSWORD" in text.splitlines()[1] and text.splitlines()[1].startswith("-- ")
    script = text + ".mode csv\n" + COUNT + ";\n"
    result = subprocess.run(
        [str(cli_binary())],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PGPASSWORD": SECRET},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["n", "3"]


def _started_shell(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "wirehouse.cli", "shell", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(".mode csv\nselect 'ready' as state;\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == "state\n" and proc.stdout.readline() == "ready\n", proc.stderr
    return proc


def _duckdb_process(proc: subprocess.Popen[str]) -> int:
    """The pid of the DuckDB shell: the process itself once it exec'd, else its one child."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    return int(children[0]) if children else proc.pid


def test_the_shell_passes_a_postgres_password_in_the_environment_never_on_the_command_line(pg_lake):
    for args in ((), ("--write",)):
        proc = _started_shell(*args, "--warehouse", pg_lake)
        try:
            pid = _duckdb_process(proc)
            assert SECRET not in Path(f"/proc/{pid}/cmdline").read_bytes().decode()
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert f"PGPASSWORD={SECRET}".encode() in environ
            assert proc.stdin is not None
            proc.stdin.close()
            assert proc.wait(timeout=60) == 0
        finally:
            proc.kill()
            proc.wait()


def test_a_writing_shell_on_a_postgres_catalog_holds_its_lease_until_it_ends(pg_lake):
    from warehouse.connection import WarehouseBusyError

    proc = _started_shell("--write", "--warehouse", pg_lake)
    try:
        with pytest.raises(WarehouseBusyError), warehouse_lock(pg_lake, timeout=0.0):
            pytest.fail("an ingest got the lease while the shell could write")
        assert proc.stdin is not None
        proc.stdin.write("create table notes as select 42 as answer;\n")
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        proc.wait()
    with warehouse_lock(pg_lake, timeout=0.0):
        pass  # free again once the shell ended
    found = wirehouse("query", "select answer from notes", "--format", "json", "--warehouse", pg_lake)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == [{"answer": 42}]


def test_a_writing_shell_on_a_postgres_catalog_is_refused_while_an_ingest_holds_the_lease(pg_lake):
    with warehouse_lock(pg_lake, timeout=1.0):
        busy = shell("--write", "--warehouse", pg_lake, stdin="select 1;\n")
        assert_one_line_error(busy, "an ingest is writing the warehouse")
        assert SECRET not in busy.stderr
