"""The commands that read or look after the lake: query, shell, attach-sql, snapshots, migrate, search, export, stats."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.settings import load_settings
from wirehouse.cliargs import RefusedError, UserError, note, reading, run_query, warehouse_path, write_table
from wirehouse.tables import format_rows

SEARCH_PRIORITY = ("score", "title", "source", "published_at", "language", "snippet", "url")


def cmd_query(args: argparse.Namespace) -> int:
    """`wirehouse query`."""
    if args.file:
        try:
            sql = Path(args.file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot read SQL file {args.file}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise UserError(f"SQL file {args.file} is not UTF-8 text") from exc
    elif args.sql:
        sql = args.sql
    else:
        raise UserError("give a SQL statement or -f FILE")
    sys.stdout.write(run_query(sql, reading(args), args.format, args.as_of))
    return 0


def cmd_shell(args: argparse.Namespace) -> int:
    """`wirehouse shell`: DuckDB's own command line on the lake (this process becomes it)."""
    from wirehouse.shell import exec_shell

    return exec_shell(reading(args), write=args.write)


def cmd_attach_sql(args: argparse.Namespace) -> int:
    """`wirehouse attach-sql`: the lines that open the lake in one's own DuckDB session."""
    from wirehouse.shell import attach_sql

    sys.stdout.write(attach_sql(reading(args), write=args.write))
    return 0


def cmd_snapshots(args: argparse.Namespace) -> int:
    """`wirehouse snapshots`."""
    from dataclasses import astuple, fields

    from warehouse.connection import connect
    from warehouse.maintenance import SnapshotSummary, snapshot_history

    con = connect(warehouse_path(args), read_only=True)
    try:
        history = snapshot_history(con, args.limit)
    finally:
        con.close()
    columns = [f.name for f in fields(SnapshotSummary)]
    sys.stdout.write(format_rows(columns, [astuple(s) for s in history], args.format))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """`wirehouse migrate`: convert an older single-file warehouse into the lake, and show the check."""
    from warehouse.connection import lake_of, open_warehouse
    from warehouse.convert import convert_legacy

    lake = lake_of(warehouse_path(args))
    if lake.sqlite is None or lake.sqlite.is_file():
        with open_warehouse(lake.name, migrate=True):
            pass
        print(f"{lake.name} is a lake already; its schema is current")
        return 0
    if lake.legacy is None or not lake.legacy.is_file():
        raise UserError(f"nothing to convert: neither {lake.name} nor {lake.legacy} exists")
    checks = convert_legacy(lake)
    rows = [(c.table, c.rows_before, c.rows_after, "equal" if c.equal else "DIFFERENT") for c in checks]
    sys.stdout.write(format_rows(["table", "rows_before", "rows_after", "content"], rows, "table"))
    print(f"converted {lake.legacy} into {lake.name} (data in {lake.data_path}); the old file is kept")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """`wirehouse search`."""
    from tasks.search import SearchError
    from warehouse.connection import lake_of, open_warehouse
    from warehouse.search import build_search_index, catch_up_search_index, search, search_lag

    path = reading(args)
    try:
        if args.rebuild:
            with open_warehouse(path, read_only=True) as con:
                stats = build_search_index(con, lake_of(path).search_dir)
            note(f"search index rebuilt: {stats.rows} articles in {stats.seconds:.1f} s")
        if not args.query:
            if args.rebuild:
                return 0
            raise UserError("give the words to search for (or --rebuild)")
        folder = lake_of(path).search_dir
        with open_warehouse(path, read_only=True) as con:
            # Take what was stored since the index last caught up (other machines' merges, a run
            # killed outright); when the index cannot be written now, answer from what it has.
            try:
                catch_up_search_index(con, folder, wait=0.0)
            except SearchError as exc:
                behind = search_lag(con, folder)
                if behind:
                    note(
                        f"search covers all but {behind} stored articles ({exc}); "
                        "they are indexed by the next run or search that can write the index"
                    )
            hits = search(con, folder, args.query, lang=args.lang, since=args.since, limit=args.limit)
    except SearchError as exc:
        raise UserError(str(exc)) from exc
    columns = ["score", "published_at", "language", "source", "title", "url", "snippet"]
    rows = [
        (round(h.score, 2), h.published_at, h.language, h.source, h.title, h.url, h.snippet) for h in hits
    ]
    write_table(args, columns, rows, SEARCH_PRIORITY)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """`wirehouse export`."""
    from tasks.export import ExportError, ExportRefusedError, check_export_target
    from warehouse.connection import open_warehouse
    from warehouse.export import export_parquet

    try:
        check_export_target(Path(args.dir))  # before the warehouse is opened: nothing is read for nothing
        with open_warehouse(reading(args), read_only=True) as con:
            stats = export_parquet(con, Path(args.dir))
    except ExportRefusedError as exc:
        raise RefusedError(str(exc)) from exc
    except ExportError as exc:
        raise UserError(str(exc)) from exc
    note(
        f"exported {stats.articles} articles, {stats.quotes} quotes, {stats.stories} stories "
        f"to {stats.out_dir} ({stats.files} files, {stats.bytes / 1e6:.1f} MB, {stats.seconds:.1f} s)"
    )
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """`wirehouse stats`."""
    from tasks.export import STATS_COLUMNS
    from tasks.search import SearchError
    from warehouse.connection import is_shared, lake_of, open_warehouse
    from warehouse.export import warehouse_stats
    from warehouse.search import search_lag
    from warehouse.staging import pending_batches

    path = reading(args)
    with open_warehouse(path, read_only=True) as con:
        stats = warehouse_stats(con, days=args.days)
        pending = pending_batches(con) if is_shared(path) else 0
        try:
            unindexed = search_lag(con, lake_of(path).search_dir)
        except SearchError as exc:
            note(f"search index: {exc}")
            unindexed = 0
    if unindexed:
        note(
            f"search index: {unindexed} stored articles are not indexed yet (a run killed before its"
            " index commit, or one still going); the next run or `wirehouse search` catches up"
        )
    ((orphans, orphan_bytes),) = stats["files"]
    if orphans:
        grace = load_settings(warehouse_path=path).orphan_grace_hours
        note(
            f"{orphans} Parquet files ({orphan_bytes / 1e6:.1f} MB) belong to no commit (a run still writing,"
            f" or one that was killed); the maintenance flow deletes them once they are {grace:g} hours old"
        )
    if pending:
        note(
            f"{pending} staged batches are not merged yet (a run still going, or one that was killed);"
            " the next ingest or maintenance run merges them"
        )
    titles = {
        "feeds": "by feed",
        "languages": "by language (extracted)",
        "days": f"by day (last {args.days}, UTC)",
        "page_types": "by page type (low_confidence: extracted bodies worth a look)",
        "raw": "raw HTML kept for re-processing (bytes on disk)",
        "files": "lake files no commit references",
    }
    parts = []
    for name, rows in stats.items():
        rendered = format_rows(list(STATS_COLUMNS[name]), rows, args.format)
        parts.append(rendered if args.format != "table" else f"{titles[name]}\n{rendered}")
    sys.stdout.write("\n".join(parts))
    return 0
