"""`wirehouse feeds`: import, add, export, list, and reset, enable or disable stored feeds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from core.settings import load_settings
from wirehouse.cliargs import UserError, note, read_feed_list, reading, warehouse_path, write_table
from wirehouse.tables import format_rows

# The columns of the wide tables by importance: the last give way first when a terminal is too narrow.
FEEDS_PRIORITY = ("feed_url", "state", "articles", "last_status", "last_fetch", "title", "kind", "failures")


def cmd_feeds_import(args: argparse.Namespace) -> int:
    """`wirehouse feeds import FILE`."""
    from warehouse.connection import open_warehouse, write_lock
    from warehouse.feeds import save_feeds

    feeds = read_feed_list(args.file)
    path = warehouse_path(args)
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
        note(f"stored {sum(map(len, keep.values()))} sources in {settings.warehouse_path}")
    elif args.dry_run:
        note("dry run: nothing stored")
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

    path = warehouse_path(args)
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
        note(f"exported {len(feeds)} feeds to {args.output}")
    else:
        sys.stdout.buffer.write(data)
    return 0


def cmd_feeds_list(args: argparse.Namespace) -> int:
    """`wirehouse feeds list`."""
    from warehouse.connection import lake_of, open_warehouse
    from warehouse.feeds import feed_statuses

    path = reading(args)
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
    write_table(args, columns, rows, FEEDS_PRIORITY)
    return 0


def cmd_feeds_change(args: argparse.Namespace) -> int:
    """`wirehouse feeds reset|enable|disable URL… | --all`."""
    from warehouse.connection import lake_of, open_warehouse, write_lock
    from warehouse.feeds import change_feeds

    if bool(args.urls) == bool(args.all):
        raise UserError(f"give the feed URLs to {args.feeds_command}, or --all")
    path = warehouse_path(args)
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
