"""The commands that run a flow: ingest, backfill, demo and reprocess, and what they say about the run."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.settings import Settings, apply_prefect_defaults, load_settings, wants_progress_bar
from wirehouse.cliargs import UserError, note, read_feed_list, run_query, warehouse_path
from wirehouse.demo import DEMO_BASE
from wirehouse.server import TemporaryServer, prefect_api, temporary_server
from wirehouse.tables import format_rows

EXAMPLE_QUERY = "SELECT language, count(*) AS articles FROM articles GROUP BY 1 ORDER BY 2 DESC, 1"
WIRE_QUERY = (
    "SELECT dateline_place, agencies, title FROM articles WHERE len(agencies) > 0 ORDER BY published_at"
)
DEMO_SEARCH = "Nato Ostflanke"


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
    settings = load_settings(warehouse_path=warehouse)
    apply_prefect_defaults()
    # Started first, so that it boots while the checks below run.
    with temporary_server() as temporary:
        # Fail fast, before the run: an unusable warehouse, shard, feed list or cluster is a one-line error.
        from pipeline.load import parse_shard

        parse_shard(shard)
        if feeds:
            read_feed_list(feeds)
        _check_dask(settings.dask_address)

        def check_feeds() -> None:
            from warehouse.connection import open_warehouse
            from warehouse.feeds import active_feeds

            with open_warehouse(warehouse) as con:
                if not feeds and not active_feeds(con):
                    raise UserError(
                        f"no feeds in {warehouse}: use --feeds FILE or `wirehouse feeds import FILE`"
                    )

        def ingest_flow() -> Any:
            from flows.ingest import ingest

            return ingest

        parameters = {"feeds": feeds, "warehouse": str(warehouse), "batch_size": batch_size, "shard": shard}
        return _run_flow(
            settings, temporary, "the ingest", ingest_flow, parameters, check=check_feeds, progress_bar=True
        )


def _run_flow(
    settings: Settings,
    temporary: TemporaryServer | None,
    what: str,
    load_flow: Callable[[], Any],
    parameters: dict[str, Any],
    *,
    check: Callable[[], None] | None = None,
    progress_bar: bool = False,
) -> Any:
    """Run a flow in a run scope the CLI opens, and return its result or raise what ended it.

    The run lock is taken here already, so that a second run waits before doing anything at all. The
    scope holds the lake attached for the flow, which would otherwise load the extensions and attach it
    a second time.

    Args:
        settings: The run's settings (its warehouse among them).
        temporary: The temporary Prefect server the run reports to, if any.
        what: The run, for the message of one that did not complete ("the ingest").
        load_flow: Imports and returns the flow (imported late: the CLI starts fast).
        parameters: The flow's parameters.
        check: Called first within the scope (a check that needs the lake migrated).
        progress_bar: Draw the run's progress on a terminal that wants it.

    Returns:
        The flow's result.
    """
    from warehouse.connection import run_scope_for

    with run_scope_for(settings, note):
        if check is not None:
            check()
        flow = load_flow()
        from wirehouse.progress import terminal_progress

        with prefect_api(temporary), terminal_progress(progress_bar and wants_progress_bar()):
            state = flow(**parameters, return_state=True)
        _note_temporary_ui(temporary)
        if not state.is_completed():
            raise run_failed(state, what)
        return state.result()


# Said on stderr after a run reported to a temporary server: the "View at" link Prefect logged is dead.
TEMPORARY_UI_NOTE = (
    "this run reported to a temporary Prefect server, now stopped (its 'View at' link is gone); "
    "to keep runs in a UI: `make ui`, or PREFECT_API_URL=http://HOST:PORT/api of a running server"
)


def _note_temporary_ui(temporary: TemporaryServer | None) -> None:
    if temporary is not None:
        note(TEMPORARY_UI_NOTE)


def run_failed(state: Any, what: str) -> BaseException:
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


def use_dask(args: argparse.Namespace) -> None:
    """Hand ``--dask-address`` to the flows this process starts (they read their settings themselves)."""
    if getattr(args, "dask_address", None):
        from core.settings import export_settings

        export_settings(dask_address=args.dask_address)


def cmd_ingest(args: argparse.Namespace) -> int:
    """`wirehouse ingest`."""
    from pipeline.report import summary_lines

    use_dask(args)
    summary = run_ingest(args.feeds, warehouse_path(args), args.batch_size, args.shard)
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

    settings = load_settings(warehouse_path=warehouse)
    apply_prefect_defaults()
    for value in (args.since, args.until):
        parse_when(value)  # a bad date is one line, before any server starts
    # So is a missing file or a glob that matches nothing, and a Dask scheduler that does not answer.
    expand_sources(args.sources)
    _check_dask(settings.dask_address)

    def backfill_flow() -> Any:
        from flows.backfill import backfill

        return backfill

    parameters = {
        "sources": list(args.sources),
        "warehouse": str(warehouse),
        "host": args.host,
        "lang": args.lang,
        "since": args.since,
        "until": args.until,
        "batch_size": args.batch_size,
    }
    with temporary_server() as temporary:
        return _run_flow(settings, temporary, "the backfill", backfill_flow, parameters)


def cmd_backfill(args: argparse.Namespace) -> int:
    """`wirehouse backfill WARC...`."""
    from pipeline.backfill import summary_lines

    use_dask(args)
    summary = run_backfill(args, warehouse_path(args))
    print("\n".join(summary_lines(summary)))
    failed = [load for load in summary.files if load.error]
    if failed:
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise UserError(f"{failed[0].error}{more}")
    return 0


# A second `wirehouse demo` this long after the first re-checks the sample (then the usual ages).
DEMO_RECHECK_AFTER = "30s,1h,6h,24h,72h"
DEMO_RECHECKS = 100


def _sample_stored(path: Path) -> bool:
    """Whether the lake at ``path`` holds the sample already (the demo then serves its later edition)."""
    from warehouse.connection import WarehouseError, connect
    from warehouse.demo import sample_stored

    try:
        con = connect(path, read_only=True)
    except WarehouseError:  # no lake yet
        return False
    try:
        return sample_stored(con, DEMO_BASE)
    finally:
        con.close()


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
    path = warehouse_path(args)
    later = _sample_stored(path)
    with serve_newsroom(port=args.port, public_base=DEMO_BASE, later=later) as base:
        # The sample's host goes to 127.0.0.1 on this port (the run keeps the port in the lake, so the
        # runs after the demo fetch the same feeds); one host, so no politeness delay for this local demo.
        # Its articles are re-checked from DEMO_RECHECK_AFTER on, so a second demo a little later shows
        # the later edition's revisions (all of them: the sample is one host of its own).
        export_settings(
            demo_port=args.port,
            host_delay=0,
            robots=False,
            recheck_after=DEMO_RECHECK_AFTER,
            recheck_per_host=DEMO_RECHECKS,
        )
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


def cmd_reprocess(args: argparse.Namespace) -> int:
    """`wirehouse reprocess`."""
    from core.records import EXTRACTION_STATUSES
    from warehouse.connection import lake_of

    if args.status is not None and args.status not in EXTRACTION_STATUSES:
        # Said before anything starts: an unknown status would match nothing, without a word.
        raise UserError(
            f"unknown --status {args.status!r}; the extraction statuses are {', '.join(EXTRACTION_STATUSES)}"
        )
    path = warehouse_path(args)
    if not lake_of(path).exists():
        raise UserError(f"warehouse {path} does not exist (run `wirehouse ingest` first)")
    use_dask(args)
    _check_dask(load_settings(warehouse_path=path).dask_address)
    apply_prefect_defaults()
    from flows.reprocess import RAW_HTML_REMOVED, reprocess
    from pipeline.batch import REVISIONS_REEXTRACTED, REVISIONS_WITHOUT_PAGE
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
        raise run_failed(state, "reprocess")
    counts = state.result()
    rewritten, without_page = counts.pop(REVISIONS_REEXTRACTED, 0), counts.pop(REVISIONS_WITHOUT_PAGE, 0)
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
    if rewritten or without_page:
        print(revisions_line(rewritten, without_page))
    return 0


def revisions_line(rewritten: int, without_page: int) -> str:
    """What re-processing did to the stored versions (revisions) of its articles, in one line."""
    line = f"revisions: {rewritten} re-extracted"
    if without_page:
        line += (
            f", {without_page} not: the lake keeps only the latest version's page, so earlier versions"
            " keep the text they were extracted with"
        )
    return line
