"""Connection, run lock and holding the warehouse open."""

from datetime import UTC, datetime

import pytest

from warehouse.connection import WarehouseError, connect, hold_warehouse, open_warehouse

NOW = datetime(2024, 10, 28, 15, 0, tzinfo=UTC)


def _memory_limit(path):
    with open_warehouse(path) as con:
        return con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def test_a_held_warehouse_has_the_runs_memory_limit_until_released(warehouse_path):
    default = _memory_limit(warehouse_path)
    with hold_warehouse(warehouse_path, 64):
        # Every connection of the run shares the held database, and so its limit.
        assert _memory_limit(warehouse_path) == "64.0 MiB"
    assert _memory_limit(warehouse_path) == default != "64.0 MiB"
    with hold_warehouse(warehouse_path, 0):
        assert _memory_limit(warehouse_path) == default


def test_connect_errors_are_one_line_for_users(tmp_path):
    with pytest.raises(WarehouseError, match="does not exist"):
        connect(tmp_path / "missing.sqlite", read_only=True)
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(WarehouseError, match="not a file"):
        connect(tmp_path / "dir.sqlite")
    (tmp_path / "file").write_text("x")
    with pytest.raises(WarehouseError, match="cannot create folder"):
        connect(tmp_path / "file" / "sub" / "w.sqlite")
    (tmp_path / "garbage.sqlite").write_bytes(b"not a database at all" * 1000)
    with pytest.raises(WarehouseError, match="cannot open"):
        connect(tmp_path / "garbage.sqlite")
    # an old single-file warehouse that is not one: the conversion fails and leaves no lake behind
    (tmp_path / "old.duckdb").write_bytes(b"not a database at all" * 1000)
    with pytest.raises(WarehouseError, match="cannot open"):
        connect(tmp_path / "old.duckdb")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("old")) == [
        "old.duckdb",
        "old.sqlite.lock",
    ]


def test_run_lock_makes_a_second_process_wait_then_gives_up_clearly(warehouse_path):
    import subprocess
    import sys
    import textwrap

    from warehouse.connection import WarehouseBusyError, warehouse_lock

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import time, sys
            from warehouse.connection import warehouse_lock
            with warehouse_lock({str(warehouse_path)!r}, 5):
                print("held", flush=True)
                time.sleep(3)
            print("released", flush=True)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        messages = []
        with (
            pytest.raises(WarehouseBusyError, match="still in use"),
            warehouse_lock(warehouse_path, 0.5, messages.append),
        ):
            pass
        assert len(messages) == 1 and "waiting" in messages[0]
        with warehouse_lock(warehouse_path, 30), warehouse_lock(warehouse_path, 0):  # waits, then re-enters
            assert holder.stdout.readline().strip() == "released"  # we only got it once the other let go
    finally:
        holder.kill()
        holder.wait()


def test_a_run_scope_locks_and_migrates_once_and_nested_scopes_share_it(warehouse_path, monkeypatch):
    import warehouse
    from warehouse import connection

    calls, checks = [], []
    real, real_check = warehouse.migrate, warehouse.needs_migration
    monkeypatch.setattr(warehouse, "migrate", lambda con: calls.append(1) or real(con))
    monkeypatch.setattr(warehouse, "needs_migration", lambda con: checks.append(1) or real_check(con))
    with connection.run_scope(warehouse_path, timeout=1) as outer:
        assert outer.run_id is None and calls == [1]
        with connection.run_scope(warehouse_path, timeout=0, run_id="r1", hold=True) as inner:
            assert inner.run_id == "r1"
            connection.ensure_schema(warehouse_path)  # the flow's prepare-warehouse task
        assert calls == [1] and checks == [1]
    connection.ensure_schema(warehouse_path)  # outside any scope it checks, and finds nothing to do
    assert calls == [1] and checks == [1, 1]


def test_only_the_warehouse_package_imports_duckdb():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for package in ("flows", "tasks", "wirehouse", "bench"):
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else []
                )
                if any(n == "duckdb" or n.startswith("duckdb.") for n in names):
                    offenders.append(str(path.relative_to(root)))
    assert offenders == []
