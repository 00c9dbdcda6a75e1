"""The `wirehouse` command line: its parser and main(); errors end in one line and a non-zero exit.

The commands live in wirehouse.runs (those that run a flow), wirehouse.lakecmds (reading and looking
after the lake) and wirehouse.feedcmds; what they share in wirehouse.cliargs.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from core.errors import WirehouseError
from core.settings import VERSION, load_settings, prepare_process
from wirehouse import interrupt
from wirehouse.cliargs import RefusedError as RefusedError
from wirehouse.cliargs import UserError as UserError
from wirehouse.cliargs import day_count, port_number, since
from wirehouse.demo import DEMO_BASE, DEMO_PORT
from wirehouse.feedcmds import (
    cmd_feeds_add,
    cmd_feeds_change,
    cmd_feeds_export,
    cmd_feeds_import,
    cmd_feeds_list,
)
from wirehouse.lakecmds import (
    cmd_attach_sql,
    cmd_export,
    cmd_migrate,
    cmd_query,
    cmd_search,
    cmd_shell,
    cmd_snapshots,
    cmd_stats,
)
from wirehouse.revisioncmd import cmd_revisions
from wirehouse.runs import TEMPORARY_UI_NOTE as TEMPORARY_UI_NOTE
from wirehouse.runs import cmd_backfill, cmd_demo, cmd_ingest, cmd_reprocess
from wirehouse.tables import MAX_CELL as MAX_CELL
from wirehouse.tables import format_rows as format_rows

DASK_HELP = "a running Dask scheduler (tcp://host:8786) to extract and enrich on (or WIREHOUSE_DASK_ADDRESS)"


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
    search.add_argument("--since", type=since, metavar="YYYY-MM-DD", help="only articles published since")
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
    again.add_argument("--since", type=since, metavar="YYYY-MM-DD", help="only articles published since")
    again.add_argument("--until", type=since, metavar="YYYY-MM-DD", help="only articles published before")
    again.add_argument("--feed", metavar="URL", help="only articles of this feed")
    again.add_argument(
        "--status",
        metavar="STATUS",
        help="only this extraction_status (ok, fetch_failed, http_error, not_html, login_page, consent_wall,"
        " paywall, listing, error_page, no_text, error)",
    )
    again.add_argument("--dask-address", metavar="URL", help=DASK_HELP)

    stats = add("stats", "Article counts by feed, by language and by day.", cmd_stats)
    stats.add_argument(
        "--days", type=day_count, default=14, metavar="N", help="days in the by-day table (1-3660)"
    )
    stats.add_argument("--format", choices=["table", "csv", "json"], default="table")

    revisions = add(
        "revisions", "Print every stored version of an article as a word-level diff.", cmd_revisions
    )
    revisions.add_argument("url", metavar="URL", help="the article's URL")
    revisions.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="colour the diff (auto: when printing to a terminal)",
    )

    demo = add(
        "demo",
        "Serve the bundled sample newsroom on 127.0.0.1 and ingest it (what `make run` does).",
        cmd_demo,
    )
    demo.add_argument(
        "--port",
        type=port_number,
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
    from warehouse.faults import CatalogLostError, StorageFullError, translate

    if isinstance(exc, (StorageFullError, CatalogLostError)):  # said already: no settings to read
        return exc
    return translate(exc, _warehouse_name(args))


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
