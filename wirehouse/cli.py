"""The `wirehouse` command line: ingest, query, feeds, demo — errors end in one line and a non-zero exit."""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from core.errors import PermanentError, WirehouseError, first_line
from core.settings import VERSION, apply_prefect_defaults, load_settings, prepare_process, wants_progress_bar
from wirehouse import interrupt
from wirehouse.demo import DEMO_BASE, DEMO_PORT
from wirehouse.server import TemporaryServer, needs_temporary_server, prefect_api
from wirehouse.tables import MAX_CELL as MAX_CELL
from wirehouse.tables import Layout, select_columns
from wirehouse.tables import format_rows as format_rows

EXAMPLE_QUERY = "SELECT language, count(*) AS articles FROM articles GROUP BY 1 ORDER BY 2 DESC, 1"
WIRE_QUERY = (
    "SELECT dateline_place, agencies, title FROM articles WHERE len(agencies) > 0 ORDER BY published_at"
)
DASK_HELP = "a running Dask scheduler (tcp://host:8786) to extract and enrich on (or WIREHOUSE_DASK_ADDRESS)"
DEMO_SEARCH = "Nato Ostflanke"


class UserError(PermanentError):
    """An error the user can fix; printed as one line."""

    exit_code = 1


class RefusedError(UserError):
    """Refused because going on would destroy something of the user's (exit 2, like a usage error)."""

    exit_code = 2


# --------------------------------------------------------------------------- commands


def _warehouse_path(args: argparse.Namespace) -> Path:
    path = load_settings(warehouse_path=getattr(args, "warehouse", None)).warehouse_path
    if path.is_dir():  # said here, before any command takes it for a missing or unusable file
        raise UserError(
            f"warehouse {path} is a directory, not the lake's catalog file (e.g. --warehouse {path / 'news.sqlite'})"
        )
    return path


def _reading(args: argparse.Namespace) -> Path:
    """The warehouse of a reading command (readers never wait for an ingest: the lake's snapshots)."""
    return _warehouse_path(args)


# The columns of the wide tables by importance: the last give way first when a terminal is too narrow.
FEEDS_PRIORITY = ("feed_url", "state", "articles", "last_status", "last_fetch", "title", "kind", "failures")
SEARCH_PRIORITY = ("score", "title", "source", "published_at", "language", "snippet", "url")


def _write_table(
    args: argparse.Namespace, columns: Sequence[str], rows: Sequence[Sequence[Any]], priority: Sequence[str]
) -> None:
    """Print a table as ``--columns``, ``--wide`` and the terminal's width have it."""
    import shutil

    if args.columns:
        wanted = [name.strip() for name in args.columns.split(",") if name.strip()]
        try:
            columns, rows = select_columns(columns, rows, wanted)
        except ValueError as exc:
            raise UserError(f"--columns: {exc}") from exc
    # Only a terminal is fitted: a pipe or a file gets every column, as before.
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    layout = Layout(width=width, wide=args.wide, priority=priority)
    sys.stdout.write(format_rows(columns, rows, args.format, layout))


def run_query(sql: str, warehouse: Path, fmt: str, as_of: str | None = None) -> str:
    """Run SQL read-only against the warehouse and render each statement's result.

    Args:
        sql: One statement, or several separated by ``;`` (each result is printed, in order).
        warehouse: The warehouse.
        fmt: Output format.
        as_of: A snapshot version or ISO time to read the lake as it was then.

    Returns:
        Rendered results: tables and CSV separated by a blank line, JSON one array per line.
    """
    from warehouse.connection import QueryError, parse_as_of, read_queries

    try:
        results = read_queries(warehouse, sql, parse_as_of(as_of) if as_of else None)
    except QueryError as exc:
        raise UserError(f"SQL error: {exc}") from exc
    rendered = [format_rows(columns, rows, fmt) for columns, rows in results if columns]
    return ("" if fmt == "json" else "\n").join(rendered)


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
    sys.stdout.write(run_query(sql, _reading(args), args.format, args.as_of))
    return 0


def cmd_shell(args: argparse.Namespace) -> int:
    """`wirehouse shell`: DuckDB's own command line on the lake (this process becomes it)."""
    from wirehouse.shell import exec_shell

    exec_shell(_reading(args), write=args.write)


def cmd_attach_sql(args: argparse.Namespace) -> int:
    """`wirehouse attach-sql`: the lines that open the lake in one's own DuckDB session."""
    from wirehouse.shell import attach_sql

    sys.stdout.write(attach_sql(_reading(args), write=args.write))
    return 0


def cmd_snapshots(args: argparse.Namespace) -> int:
    """`wirehouse snapshots`."""
    from dataclasses import astuple, fields

    from warehouse.connection import connect
    from warehouse.maintenance import SnapshotSummary, snapshot_history

    con = connect(_warehouse_path(args), read_only=True)
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

    lake = lake_of(_warehouse_path(args))
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


def _read_feed_list(source: str) -> list[Any]:
    from tasks.feeds import read_feed_list_source
    from tasks.http import HttpClient

    settings = load_settings()
    with HttpClient(settings) as client:
        return read_feed_list_source(source, client, settings)


def cmd_feeds_import(args: argparse.Namespace) -> int:
    """`wirehouse feeds import FILE`."""
    from warehouse.connection import open_warehouse, write_lock
    from warehouse.feeds import save_feeds

    feeds = _read_feed_list(args.file)
    path = _warehouse_path(args)
    with write_lock(path), open_warehouse(path, migrate=True) as con:
        count = save_feeds(con, feeds, args.file)
    print(f"imported {count} feeds into {path}")
    return 0


def cmd_feeds_add(args: argparse.Namespace) -> int:
    """`wirehouse feeds add URL...`: find a site's feeds and sitemaps and store them (site as category)."""
    from tasks.discover import DiscoveryError, discover
    from tasks.http import HttpClient
    from warehouse.connection import open_warehouse, write_lock
    from warehouse.feeds import save_feeds

    settings = load_settings(warehouse_path=getattr(args, "warehouse", None))
    found: dict[str, list[Any]] = {}
    errors: list[str] = []
    with HttpClient(settings) as client:
        for url in args.urls:
            try:
                found[url] = discover(client, url, settings)
            except DiscoveryError as exc:
                errors.append(str(exc))
    rows = [
        (f.url, f.kind, f.via, f.title, "yes" if f.stored else "no", f.note)
        for fs in found.values()
        for f in fs
    ]
    if rows:  # nothing found: only the error below, no empty table before it
        sys.stdout.write(
            format_rows(["url", "kind", "found_via", "title", "store", "note"], rows, args.format)
        )
    keep = {url: [f.source() for f in fs if f.stored] for url, fs in found.items()}
    if not args.dry_run and any(keep.values()):
        with (
            write_lock(settings.warehouse_path),
            open_warehouse(settings.warehouse_path, migrate=True) as con,
        ):
            for url, sources in keep.items():
                save_feeds(con, sources, url)
        _note(f"stored {sum(map(len, keep.values()))} sources in {settings.warehouse_path}")
    elif args.dry_run:
        _note("dry run: nothing stored")
    if errors:
        raise UserError("; ".join(errors))
    if not any(keep.values()):
        raise UserError(f"found no feed or sitemap at {', '.join(args.urls)}")
    return 0


def cmd_feeds_export(args: argparse.Namespace) -> int:
    """`wirehouse feeds export`: the stored feed list as OPML or TOML."""
    from tasks.feedlists import write_feed_toml, write_opml
    from warehouse.connection import lake_of, open_warehouse
    from warehouse.feeds import active_feeds

    path = _warehouse_path(args)
    if not lake_of(path).exists():
        raise UserError(f"warehouse {path} does not exist (import feeds first)")
    with open_warehouse(path, migrate=True) as con:
        feeds = sorted(active_feeds(con), key=lambda f: (f.category or "", f.url))
    data = write_opml(feeds) if args.format == "opml" else write_feed_toml(feeds).encode()
    if args.output:
        try:
            Path(args.output).write_bytes(data)
        except OSError as exc:
            raise UserError(f"cannot write {args.output}: {exc.strerror}") from exc
        _note(f"exported {len(feeds)} feeds to {args.output}")
    else:
        sys.stdout.buffer.write(data)
    return 0


def cmd_feeds_list(args: argparse.Namespace) -> int:
    """`wirehouse feeds list`."""
    from warehouse.connection import lake_of, open_warehouse
    from warehouse.feeds import feed_statuses

    path = _reading(args)
    if not lake_of(path).exists():
        raise UserError(f"warehouse {path} does not exist (import feeds or run `wirehouse ingest` first)")
    with open_warehouse(path, migrate=True) as con:
        statuses = feed_statuses(con)
    rows = [
        (
            s.feed_url,
            s.title,
            s.category,
            s.kind,
            "active" if s.active else f"retired: {s.retired_reason or 'by hand'}",
            s.last_status,
            s.last_fetch,
            s.last_success,
            s.consecutive_failures,
            s.next_fetch_at or ("next run" if s.active else ""),
            s.last_error,
            s.articles,
        )
        for s in statuses
    ]
    columns = [
        "feed_url",
        "title",
        "category",
        "kind",
        "state",
        "last_status",
        "last_fetch",
        "last_success",
        "failures",
        "next_fetch",
        "last_error",
        "articles",
    ]
    _write_table(args, columns, rows, FEEDS_PRIORITY)
    return 0


def cmd_feeds_change(args: argparse.Namespace) -> int:
    """`wirehouse feeds reset|enable|disable URL… | --all`."""
    from warehouse.connection import lake_of, open_warehouse, write_lock
    from warehouse.feeds import change_feeds

    if bool(args.urls) == bool(args.all):
        raise UserError(f"give the feed URLs to {args.feeds_command}, or --all")
    path = _warehouse_path(args)
    if not lake_of(path).exists():
        raise UserError(f"warehouse {path} does not exist (import feeds or run `wirehouse ingest` first)")
    with write_lock(path), open_warehouse(path, migrate=True) as con:
        changed = change_feeds(con, args.feeds_command, None if args.all else args.urls)
    done = {"reset": "reset (due on the next run)", "enable": "enabled", "disable": "disabled"}
    print(f"{len(changed)} feeds {done[args.feeds_command]}")
    unknown = sorted(set(args.urls or ()) - set(changed))
    if unknown:
        raise UserError(f"not a stored feed (see `wirehouse feeds list`): {', '.join(unknown)}")
    return 0


def run_ingest(
    feeds: str | None, warehouse: Path, batch_size: int | None = None, shard: str | None = None
) -> Any:
    """Check what can be checked cheaply, then run the ingest flow.

    Args:
        feeds: Feed list to import first, or None for the stored feeds.
        warehouse: The warehouse.
        batch_size: Articles per batch.
        shard: ``I/N``: only part I of N of the feeds.

    Returns:
        The flow's IngestSummary.
    """
    from warehouse.connection import open_warehouse, run_scope
    from warehouse.feeds import active_feeds

    settings = load_settings(warehouse_path=warehouse)
    apply_prefect_defaults()
    with ExitStack() as stack:
        temporary = None
        if needs_temporary_server():
            # Started first, so that it boots while the checks below run; stopped however we leave.
            temporary = TemporaryServer()
            temporary.start()
            stack.callback(temporary.stop)
        # Fail fast, before the run: an unusable warehouse, shard, feed list or cluster is a one-line error.
        from pipeline.load import parse_shard

        parse_shard(shard)
        if feeds:
            _read_feed_list(feeds)
        _check_dask(settings.dask_address)
        # The run lock is taken here already, so that a second ingest waits before doing anything at all.
        # The scope holds the lake attached for the flow, which would otherwise load the extensions and
        # attach it a second time.
        with run_scope(
            warehouse,
            timeout=settings.lock_timeout,
            on_wait=_note,
            hold=True,
            memory_mb=settings.warehouse_memory_mb,
        ):
            with open_warehouse(warehouse) as con:
                if not feeds and not active_feeds(con):
                    raise UserError(
                        f"no feeds in {warehouse}: use --feeds FILE or `wirehouse feeds import FILE`"
                    )

            from flows.ingest import ingest
            from wirehouse.progress import terminal_progress

            with prefect_api(temporary), terminal_progress(wants_progress_bar()):
                state = ingest(
                    feeds=feeds,
                    warehouse=str(warehouse),
                    batch_size=batch_size,
                    shard=shard,
                    return_state=True,
                )
            _note_temporary_ui(temporary)
            if not state.is_completed():
                raise _run_failed(state, "the ingest")
            return state.result()


# Said on stderr after a run reported to a temporary server: the "View at" link Prefect logged is dead.
TEMPORARY_UI_NOTE = (
    "this run reported to a temporary Prefect server, now stopped (its 'View at' link is gone); "
    "to keep runs in a UI: `make ui`, or PREFECT_API_URL=http://HOST:PORT/api of a running server"
)


def _note_temporary_ui(temporary: TemporaryServer | None) -> None:
    if temporary is not None:
        _note(TEMPORARY_UI_NOTE)


def _run_failed(state: Any, what: str) -> BaseException:
    """The error of a flow run that did not complete: the exception it raised, for main() to tell.

    The state's message wraps it in Prefect's words ("Flow run encountered an exception: …") and may
    run over many lines; main() says a wirehouse error or a fault below it (a full disk, a lost
    catalog) in one line of its own.
    """
    cause = state.result(raise_on_failure=False)
    if isinstance(cause, Exception):
        return cause
    return UserError(state.message or f"{what} ended in state {state.name}")


def _check_dask(address: str) -> None:
    """Fail before a run whose Dask scheduler (``WIREHOUSE_DASK_ADDRESS``) does not answer."""
    if address:
        from tasks.cluster import check_scheduler

        check_scheduler(address)


def _use_dask(args: argparse.Namespace) -> None:
    """Hand ``--dask-address`` to the flows this process starts (they read their settings themselves)."""
    if getattr(args, "dask_address", None):
        from core.settings import export_settings

        export_settings(dask_address=args.dask_address)


def _note(message: str) -> None:
    print(f"wirehouse: {message}", file=sys.stderr, flush=True)


def cmd_ingest(args: argparse.Namespace) -> int:
    """`wirehouse ingest`."""
    from pipeline.report import summary_lines

    _use_dask(args)
    summary = run_ingest(args.feeds, _warehouse_path(args), args.batch_size, args.shard)
    print("\n".join(summary_lines(summary)))
    return 0


def run_backfill(args: argparse.Namespace, warehouse: Path) -> Any:
    """Check the sources cheaply, then run the backfill flow.

    Args:
        args: The parsed ``backfill`` arguments.
        warehouse: The warehouse.

    Returns:
        The flow's BackfillSummary.
    """
    from pipeline.load import parse_when
    from tasks.warc import expand_sources
    from warehouse.connection import run_scope

    settings = load_settings(warehouse_path=warehouse)
    apply_prefect_defaults()
    for value in (args.since, args.until):
        parse_when(value)  # a bad date is one line, before any server starts
    # So is a missing file or a glob that matches nothing, and a Dask scheduler that does not answer.
    expand_sources(args.sources)
    _check_dask(settings.dask_address)
    with ExitStack() as stack:
        temporary = None
        if needs_temporary_server():
            temporary = TemporaryServer()
            temporary.start()
            stack.callback(temporary.stop)
        with run_scope(
            warehouse,
            timeout=settings.lock_timeout,
            on_wait=_note,
            hold=True,
            memory_mb=settings.warehouse_memory_mb,
        ):
            from flows.backfill import backfill

            with prefect_api(temporary):
                state = backfill(
                    sources=list(args.sources),
                    warehouse=str(warehouse),
                    host=args.host,
                    lang=args.lang,
                    since=args.since,
                    until=args.until,
                    batch_size=args.batch_size,
                    return_state=True,
                )
            _note_temporary_ui(temporary)
            if not state.is_completed():
                raise _run_failed(state, "the backfill")
            return state.result()


def cmd_backfill(args: argparse.Namespace) -> int:
    """`wirehouse backfill WARC...`."""
    from pipeline.backfill import summary_lines

    _use_dask(args)
    summary = run_backfill(args, _warehouse_path(args))
    print("\n".join(summary_lines(summary)))
    failed = [load for load in summary.files if load.error]
    if failed:
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise UserError(f"{failed[0].error}{more}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """`wirehouse demo`: serve the bundled sample newsroom on loopback and ingest it."""
    from core.settings import export_settings
    from pipeline.report import summary_lines
    from wirehouse.demo import serve_newsroom

    if args.serve:
        with serve_newsroom(port=args.port, public_base=DEMO_BASE) as base:
            print(f"sample newsroom serving at {base} on 127.0.0.1:{args.port} (Ctrl-C stops it)", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:  # the way to stop it: not an error
                return 0
    path = _warehouse_path(args)
    with serve_newsroom(port=args.port, public_base=DEMO_BASE) as base:
        # The sample's host goes to 127.0.0.1 on this port (the run keeps the port in the lake, so the
        # runs after the demo fetch the same feeds); one host, so no politeness delay for this local demo.
        export_settings(demo_port=args.port, host_delay=0, robots=False)
        print(f"sample newsroom serving at {base} on 127.0.0.1:{args.port}")
        summary = run_ingest(f"{base}/sample.opml", path)
    print()
    print("\n".join(summary_lines(summary)))
    for sql in (EXAMPLE_QUERY, WIRE_QUERY):
        print(f'\n$ wirehouse query "{sql}"')
        sys.stdout.write(run_query(sql, path, "table"))
    _demo_search_and_today(path)
    return 0


def _demo_search_and_today(path: Path) -> None:
    """Show search and the "today" query on the sample: its dates are served as today's."""
    from warehouse import QUERIES_DIR
    from warehouse.connection import lake_of, open_warehouse
    from warehouse.search import search

    # No rebuild: the ingest indexed every batch it stored.
    with open_warehouse(path, read_only=True) as con:
        hits = search(con, lake_of(path).search_dir, DEMO_SEARCH, limit=3)
    print(f'\n$ wirehouse search "{DEMO_SEARCH}" --limit 3')
    rows = [(round(h.score, 2), h.language, h.source, h.title) for h in hits]
    sys.stdout.write(format_rows(["score", "language", "source", "title"], rows, "table"))
    today = QUERIES_DIR / "top_stories_today.sql"
    print(f"\n$ wirehouse query -f warehouse/queries/{today.name}")
    sql = today.read_text(encoding="utf-8")
    sys.stdout.write(run_query(sql.replace("SELECT story_id, title,", "SELECT title,"), path, "table"))


def _since(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


def _whole_number(value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from exc
    if not low <= number <= high:
        raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
    return number


def _port(value: str) -> int:
    return _whole_number(value, 1, 65535)


def _days(value: str) -> int:
    return _whole_number(value, 1, 3660)


def cmd_reprocess(args: argparse.Namespace) -> int:
    """`wirehouse reprocess`."""
    from core.records import EXTRACTION_STATUSES
    from warehouse.connection import lake_of

    if args.status is not None and args.status not in EXTRACTION_STATUSES:
        # Said before anything starts: an unknown status would match nothing, without a word.
        raise UserError(
            f"unknown --status {args.status!r}; the extraction statuses are {', '.join(EXTRACTION_STATUSES)}"
        )
    path = _warehouse_path(args)
    if not lake_of(path).exists():
        raise UserError(f"warehouse {path} does not exist (run `wirehouse ingest` first)")
    _use_dask(args)
    _check_dask(load_settings(warehouse_path=path).dask_address)
    apply_prefect_defaults()
    from flows.reprocess import RAW_HTML_REMOVED, reprocess
    from pipeline.load import removed_raw_html_line

    with prefect_api():
        state = reprocess(
            since=args.since and args.since.isoformat(),
            until=args.until and args.until.isoformat(),
            feed_url=args.feed,
            status=args.status,
            warehouse=str(path),
            return_state=True,
        )
    if not state.is_completed():
        raise _run_failed(state, "reprocess")
    counts = state.result()
    if removed := counts.pop(RAW_HTML_REMOVED, 0):
        # Said apart from the counts: these pages were selected and left alone, not re-processed.
        print(
            removed_raw_html_line(
                removed, sum(counts.values()), load_settings(warehouse_path=path).raw_html_days
            )
        )
    print(
        f"re-processed {sum(counts.values())} articles: "
        + (", ".join(f"{k} {v}" for k, v in counts.items()) or "none")
    )
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """`wirehouse search`."""
    from tasks.search import SearchError
    from warehouse.connection import lake_of, open_warehouse
    from warehouse.search import build_search_index, catch_up_search_index, search, search_lag

    path = _reading(args)
    try:
        if args.rebuild:
            with open_warehouse(path, read_only=True) as con:
                stats = build_search_index(con, lake_of(path).search_dir)
            _note(f"search index rebuilt: {stats.rows} articles in {stats.seconds:.1f} s")
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
                    _note(
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
    _write_table(args, columns, rows, SEARCH_PRIORITY)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """`wirehouse export`."""
    from tasks.export import ExportError, ExportRefusedError, check_export_target
    from warehouse.connection import open_warehouse
    from warehouse.export import export_parquet

    try:
        check_export_target(Path(args.dir))  # before the warehouse is opened: nothing is read for nothing
        with open_warehouse(_reading(args), read_only=True) as con:
            stats = export_parquet(con, Path(args.dir))
    except ExportRefusedError as exc:
        raise RefusedError(str(exc)) from exc
    except ExportError as exc:
        raise UserError(str(exc)) from exc
    _note(
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

    path = _reading(args)
    with open_warehouse(path, read_only=True) as con:
        stats = warehouse_stats(con, days=args.days)
        pending = pending_batches(con) if is_shared(path) else 0
        try:
            unindexed = search_lag(con, lake_of(path).search_dir)
        except SearchError as exc:
            _note(f"search index: {exc}")
            unindexed = 0
    if unindexed:
        _note(
            f"search index: {unindexed} stored articles are not indexed yet (a run killed before its"
            " index commit, or one still going); the next run or `wirehouse search` catches up"
        )
    ((orphans, orphan_bytes),) = stats["files"]
    if orphans:
        grace = load_settings(warehouse_path=path).orphan_grace_hours
        _note(
            f"{orphans} Parquet files ({orphan_bytes / 1e6:.1f} MB) belong to no commit (a run still writing,"
            f" or one that was killed); the maintenance flow deletes them once they are {grace:g} hours old"
        )
    if pending:
        _note(
            f"{pending} staged batches are not merged yet (a run still going, or one that was killed);"
            " the next ingest or maintenance run merges them"
        )
    titles = {
        "feeds": "by feed",
        "languages": "by language (extracted)",
        "days": f"by day (last {args.days}, UTC)",
        "raw": "raw HTML kept for re-processing (bytes on disk)",
        "files": "lake files no commit references",
    }
    parts = []
    for name, rows in stats.items():
        rendered = format_rows(list(STATS_COLUMNS[name]), rows, args.format)
        parts.append(rendered if args.format != "table" else f"{titles[name]}\n{rendered}")
    sys.stdout.write("\n".join(parts))
    return 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (all commands, all help texts)."""
    parser = argparse.ArgumentParser(
        prog="wirehouse",
        description=(
            "News ingestion and enrichment: fetch RSS/Atom/JSON feeds, extract each article's text, "
            "enrich it and load it into a DuckLake warehouse (default warehouse/news.sqlite)."
        ),
        epilog=(
            "Settings: WIREHOUSE_* environment variables or a wirehouse.toml file ([wirehouse] table); "
            "WIREHOUSE_ALLOW_PRIVATE_HOSTS=127.0.0.1,localhost allows fetching from private addresses. "
            "See README.md."
        ),
    )
    parser.add_argument("--version", action="version", version=f"wirehouse {VERSION}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_text: str, func: Callable[[argparse.Namespace], int], parent: Any = sub) -> Any:
        command = parent.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(func=func)
        command.add_argument(
            "--warehouse",
            metavar="PATH",
            help="the lake: its SQLite catalog (default warehouse/news.sqlite) or a postgres: address",
        )
        return command

    ingest = add("ingest", "Fetch feeds and load their new articles into the warehouse.", cmd_ingest)
    ingest.add_argument(
        "--feeds",
        metavar="PATH_OR_URL",
        help="OPML/TOML feed list (or URL list, or a single feed) to import and ingest first",
    )
    ingest.add_argument("--batch-size", type=int, metavar="N", help="articles per batch (default 50)")
    ingest.add_argument(
        "--shard",
        metavar="I/N",
        help="take only part I of N of the feeds (a stable hash of each feed URL), for N workers on one lake",
    )
    ingest.add_argument("--dask-address", metavar="URL", help=DASK_HELP)

    query = add(
        "query",
        "Run SQL read-only against the warehouse (several statements: each result is printed).",
        cmd_query,
    )
    query.add_argument("sql", nargs="?", help='e.g. "select language, count(*) from articles group by 1"')
    query.add_argument("-f", "--file", metavar="FILE", help="read the SQL from a file")
    query.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output format")
    query.add_argument(
        "--as-of",
        metavar="VERSION|TIME",
        help="read the warehouse as it was at this snapshot version or ISO time (see `wirehouse snapshots`)",
    )

    shell = add(
        "shell",
        "Open DuckDB's command line (duckdb-cli) on the lake: views ready, read-only unless --write.",
        cmd_shell,
    )
    shell.add_argument("--write", action="store_true", help="attach for writing (only while no ingest runs)")
    attach = add(
        "attach-sql",
        "Print the lines that open the lake in your own DuckDB 1.5.5 session (CLI or Python).",
        cmd_attach_sql,
    )
    attach.add_argument("--write", action="store_true", help="attach for writing (default: READ_ONLY)")

    snapshots = add("snapshots", "List the warehouse's snapshots (versions), newest first.", cmd_snapshots)
    snapshots.add_argument("--limit", type=int, default=20, metavar="N", help="at most N (default 20)")
    snapshots.add_argument("--format", choices=["table", "csv", "json"], default="table")

    add(
        "migrate",
        "Convert an older single-file warehouse (news.duckdb) into the lake, checking every table.",
        cmd_migrate,
    )

    feeds = sub.add_parser("feeds", help="Manage the feed list stored in the warehouse.")
    feeds_sub = feeds.add_subparsers(dest="feeds_command", metavar="COMMAND")
    feeds.set_defaults(func=lambda _args: _usage(feeds))
    imp = add(
        "import",
        "Import feeds from an OPML, TOML or URL-list file, or a single feed (path or URL).",
        cmd_feeds_import,
        feeds_sub,
    )
    imp.add_argument("file", metavar="PATH_OR_URL")
    lst = add("list", "List stored feeds with their last fetch.", cmd_feeds_list, feeds_sub)
    lst.add_argument("--format", choices=["table", "csv", "json"], default="table")
    _add_table_options(lst)
    for name, what in (
        ("reset", "Forget feeds' failures and back-off: they are fetched on the next run."),
        ("enable", "Take retired feeds (410 Gone, moved, disabled) back into the runs."),
        ("disable", "Retire feeds by hand: no run fetches them until they are enabled."),
    ):
        change = add(name, what, cmd_feeds_change, feeds_sub)
        change.add_argument("urls", nargs="*", metavar="URL", help="feed URLs as `feeds list` shows them")
        change.add_argument("--all", action="store_true", help="every stored feed")
    found = add(
        "add",
        "Find the feeds and sitemaps of sites (homepage, feed or sitemap URLs); store them.",
        cmd_feeds_add,
        feeds_sub,
    )
    found.add_argument("urls", nargs="+", metavar="URL")
    found.add_argument("--dry-run", action="store_true", help="print what is found, store nothing")
    found.add_argument("--format", choices=["table", "csv", "json"], default="table")
    out = add(
        "export",
        "Write the stored feed list as OPML or TOML (stdout, or -o FILE).",
        cmd_feeds_export,
        feeds_sub,
    )
    out.add_argument("--format", choices=["opml", "toml"], default="opml")
    out.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")

    search = add(
        "search", "Full-text search (BM25, stemmed per language) over extracted articles.", cmd_search
    )
    search.add_argument("query", nargs="?", help='words to look for, e.g. "Nordkorea Soldaten"')
    search.add_argument("--lang", metavar="CODE", help="only articles in this language (ISO 639-1, e.g. de)")
    search.add_argument("--since", type=_since, metavar="YYYY-MM-DD", help="only articles published since")
    search.add_argument("--limit", type=int, default=20, metavar="N", help="at most N hits (default 20)")
    search.add_argument(
        "--rebuild", action="store_true", help="rebuild the search index first (needs write access)"
    )
    search.add_argument("--format", choices=["table", "csv", "json"], default="table")
    _add_table_options(search)

    export = add("export", "Export articles (Hive-partitioned), quotes and stories as Parquet.", cmd_export)
    export.add_argument("--format", choices=["parquet"], default="parquet", help="file format")
    export.add_argument(
        "dir", metavar="DIR", help="output folder (articles/, quotes.parquet, stories.parquet)"
    )

    back = add(
        "backfill",
        "Load the HTML pages of WARC/ARC archives (paths, globs, http(s) or s3:// URLs).",
        cmd_backfill,
    )
    back.add_argument("sources", nargs="+", metavar="WARC", help="archive file, glob or URL")
    back.add_argument(
        "--host", metavar="HOSTS", help="only these hosts: comma list of names (with subdomains) or globs"
    )
    back.add_argument("--lang", metavar="CODES", help="only these languages (comma list, e.g. de,fr)")
    back.add_argument(
        "--since", metavar="YYYY-MM-DD", help="only pages published since (else captured since)"
    )
    back.add_argument("--until", metavar="YYYY-MM-DD", help="only pages published before")
    back.add_argument("--batch-size", type=int, metavar="N", help="records per batch (default 50)")
    back.add_argument("--dask-address", metavar="URL", help=DASK_HELP)

    again = add(
        "reprocess",
        "Re-extract and re-enrich stored pages with the current code (no fetching).",
        cmd_reprocess,
    )
    again.add_argument("--since", type=_since, metavar="YYYY-MM-DD", help="only articles published since")
    again.add_argument("--until", type=_since, metavar="YYYY-MM-DD", help="only articles published before")
    again.add_argument("--feed", metavar="URL", help="only articles of this feed")
    again.add_argument(
        "--status",
        metavar="STATUS",
        help="only this extraction_status (ok, fetch_failed, http_error, not_html, login_page, no_text, error)",
    )
    again.add_argument("--dask-address", metavar="URL", help=DASK_HELP)

    stats = add("stats", "Article counts by feed, by language and by day.", cmd_stats)
    stats.add_argument(
        "--days", type=_days, default=14, metavar="N", help="days in the by-day table (1-3660)"
    )
    stats.add_argument("--format", choices=["table", "csv", "json"], default="table")

    demo = add(
        "demo",
        "Serve the bundled sample newsroom on 127.0.0.1 and ingest it (what `make run` does).",
        cmd_demo,
    )
    demo.add_argument(
        "--port",
        type=_port,
        default=DEMO_PORT,
        metavar="N",
        help=f"loopback port of the sample newsroom (default {DEMO_PORT}; its URLs ({DEMO_BASE}/…) name no port)",
    )
    demo.add_argument(
        "--serve",
        action="store_true",
        help="only serve the sample newsroom until Ctrl-C (for scheduled runs of its feeds; see README)",
    )
    parser.set_defaults(func=lambda _args: _usage(parser))
    return parser


def _add_table_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--wide",
        action="store_true",
        help="every column and every cell in full (a terminal's table is fitted)",
    )
    command.add_argument("--columns", metavar="A,B", help="only these columns, in this order")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _warehouse_name(args: argparse.Namespace) -> str:
    """The warehouse a command used, as the user gave it (or as the settings name it), for messages."""
    given = getattr(args, "warehouse", None)
    if given:
        return str(given)
    try:
        return str(load_settings().warehouse_path)
    except WirehouseError:
        return "(see WIREHOUSE_WAREHOUSE)"


def _told(exc: Exception, args: argparse.Namespace) -> Exception | None:
    """What main() says of an error in one line: a fault below wirehouse first, then its own errors."""
    from warehouse.connection import DatabaseError
    from warehouse.faults import CatalogLostError, StorageFullError, known_fault

    if isinstance(exc, (StorageFullError, CatalogLostError)):
        return exc
    if fault := known_fault(exc, _warehouse_name(args)):
        return fault
    if isinstance(exc, WirehouseError):
        return exc
    if isinstance(exc, DatabaseError):  # e.g. a warehouse that no ingest has created the tables of yet
        return WirehouseError(first_line(exc))
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `wirehouse` console script.

    Args:
        argv: Arguments (default: sys.argv[1:]).

    Returns:
        The process exit code.
    """
    prepare_process()  # a run may start here: Prefect's defaults before anything imports prefect
    args = build_parser().parse_args(argv)
    previous = signal.getsignal(signal.SIGINT)
    try:
        interrupt.install()
        return int(args.func(args))
    except KeyboardInterrupt:
        interrupt.exit_interrupted()
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if interrupt.interrupted() and isinstance(exc, WirehouseError):  # an error on the way out of Ctrl-C
            interrupt.exit_interrupted()
        told = _told(exc, args)
        if told is None:  # anything else is a bug: its traceback is what a report needs
            raise
        print(f"wirehouse: error: {told}", file=sys.stderr)
        return told.exit_code if isinstance(told, UserError) else 1
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
