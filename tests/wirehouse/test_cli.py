"""The command line as a user meets it: real processes, real files, one-line errors."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.warehouse.test_articles import art
from warehouse.articles import store_articles
from warehouse.connection import open_warehouse
from wirehouse.cli import format_rows, main

ROOT = Path(__file__).resolve().parent.parent.parent
NO_SCHEDULER = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there


def wirehouse(*args, cwd=None, env=None, timeout=300):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "wirehouse.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=full_env,
        timeout=timeout,
    )


def assert_one_line_error(result, fragment):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("wirehouse: error:") and fragment in lines[0], lines[0]


@pytest.fixture
def filled(warehouse_path):
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [art(1), art(2, language="fr")], "r")
    return warehouse_path


def test_help_explains_every_command():
    result = wirehouse("--help")
    assert result.returncode == 0
    for command in ("ingest", "query", "feeds", "demo", "backfill"):
        assert command in result.stdout
    assert wirehouse("feeds", "--help").returncode == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["query", "select 1", "--warehouse", "/nonexistent/dir/w.duckdb"], "does not exist"),
        (["feeds", "import", "/nonexistent/feeds.opml", "--warehouse", "{tmp}/w.duckdb"], "does not exist"),
        (["feeds", "import", "{tmp}/bad.opml", "--warehouse", "{tmp}/w.duckdb"], "not well-formed OPML"),
        (["ingest", "--feeds", "{tmp}/bad.opml", "--warehouse", "{tmp}/w.duckdb"], "not well-formed OPML"),
        (["ingest", "--warehouse", "{tmp}/empty.duckdb"], "no feeds"),
        (
            ["ingest", "--feeds", "{tmp}/ok.toml", "--warehouse", "{tmp}/bad.opml/w.duckdb"],
            "cannot create folder",
        ),
        (["feeds", "list", "--warehouse", "{tmp}/none.duckdb"], "does not exist"),
        (["query", "-f", "{tmp}/missing.sql", "--warehouse", "{tmp}/w.duckdb"], "cannot read SQL file"),
        (["query", "-f", "{tmp}/bad.opml.gz", "--warehouse", "{tmp}/w.duckdb"], "not UTF-8"),
        (["stats", "--warehouse", "{tmp}/raw.duckdb"], "not a wirehouse warehouse"),
        (["stats", "--warehouse", "{tmp}/none.sqlite"], "does not exist"),
        (["query", "select 1", "--as-of", "yesterday", "--warehouse", "{tmp}/w.sqlite"], "not a snapshot"),
        (["query", "select 1", "--warehouse", "{tmp}"], "is a directory, not the lake's catalog file"),
        (["feeds", "list", "--warehouse", "{tmp}"], "is a directory, not the lake's catalog file"),
        (
            ["ingest", "--feeds", "{tmp}/ok.toml", "--warehouse", "{tmp}"],
            "is a directory, not the lake's catalog file",
        ),
        (["backfill", "{tmp}/missing.warc.gz", "--warehouse", "{tmp}/w.sqlite"], "no such archive file"),
        (["backfill", "{tmp}/*.arc.gz", "--warehouse", "{tmp}/w.sqlite"], "no archive file matches"),
        (["backfill", "{tmp}", "--warehouse", "{tmp}/w.sqlite"], "is a folder: name its files"),
        (["backfill", "{tmp}/ok.toml", "--since", "May", "--warehouse", "{tmp}/w.sqlite"], "not an ISO date"),
        (
            [
                "ingest",
                "--feeds",
                "{tmp}/ok.toml",
                "--warehouse",
                "{tmp}/w.sqlite",
                "--dask-address",
                NO_SCHEDULER,
            ],
            f"cannot reach the Dask scheduler at {NO_SCHEDULER}",
        ),
        (
            ["backfill", "{tmp}/ok.toml", "--warehouse", "{tmp}/w.sqlite", "--dask-address", NO_SCHEDULER],
            f"cannot reach the Dask scheduler at {NO_SCHEDULER}",
        ),
    ],
)
def test_user_errors_are_one_line_and_non_zero(tmp_path, args, fragment):
    (tmp_path / "bad.opml").write_text("<opml><body><outline xmlUrl='https://a.example/rss'>")
    (tmp_path / "ok.toml").write_text('[[feed]]\nurl = "https://a.example/rss"\n')
    (tmp_path / "bad.opml.gz").write_bytes(b"\x1f\x8b\x08\xff\xfe")
    import duckdb

    duckdb.connect(str(tmp_path / "raw.duckdb")).close()  # a DuckDB file without wirehouse's tables
    result = wirehouse(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert_one_line_error(result, fragment)


def test_reprocess_names_a_dask_scheduler_it_cannot_reach(filled):
    result = wirehouse("reprocess", "--warehouse", str(filled), env={"WIREHOUSE_DASK_ADDRESS": NO_SCHEDULER})
    assert_one_line_error(result, f"cannot reach the Dask scheduler at {NO_SCHEDULER}")


def test_sql_errors_and_writes_are_refused_in_one_line(filled):
    assert_one_line_error(
        wirehouse("query", "select nope from articles", "--warehouse", str(filled)), "SQL error"
    )
    assert_one_line_error(
        wirehouse("query", "delete from article_store", "--warehouse", str(filled)), "read-only"
    )
    result = wirehouse("query", "select count(*) as n from articles", "--warehouse", str(filled))
    assert result.returncode == 0 and "2" in result.stdout


def test_a_query_never_imports_the_orchestrator(filled):
    # A read command starts fast: Prefect's import alone costs about a second.
    probe = (
        "import sys\n"
        "from wirehouse.cli import main\n"
        f"code = main(['query', 'select count(*) from articles', '--warehouse', {str(filled)!r}])\n"
        "heavy = ('prefect', 'httpx', 'tantivy', 'trafilatura')  # the orchestrator, the web, extraction\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "sys.exit(f'imported: {loaded[:3]}' if loaded else code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "2" in result.stdout


def test_query_formats(filled, capsys):
    sql = "select url, authors, language from articles order by url"
    assert main(["query", sql, "--warehouse", str(filled), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0] == {"url": "https://x.example/1", "authors": ["A", "B"], "language": "de"}
    assert main(["query", sql, "--warehouse", str(filled), "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == [
        "url,authors,language",
        'https://x.example/1,"[A, B]",de',
    ]
    assert main(["query", sql, "--warehouse", str(filled)]) == 0
    assert "(2 rows)" in capsys.readouterr().out


def test_feeds_import_and_list(tmp_path, capsys):
    (tmp_path / "f.opml").write_text(
        '<opml version="2.0"><body><outline text="World"><outline text="A" xmlUrl="https://a.example/rss"/></outline></body></opml>'
    )
    path = str(tmp_path / "w.duckdb")
    assert main(["feeds", "import", str(tmp_path / "f.opml"), "--warehouse", path]) == 0
    assert "imported 1 feeds" in capsys.readouterr().out
    assert main(["feeds", "list", "--warehouse", path, "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["feed_url"], row["category"], row["state"], row["failures"]) == (
        "https://a.example/rss",
        "World",
        "active",
        0,
    )
    assert row["next_fetch"] == "next run"


def test_format_rows_truncates_long_cells():
    text = format_rows(["a"], [["x" * 100]], "table")
    assert "…" in text and "(1 row)" in text


def test_demo_runs_clean_from_the_command_line(tmp_path):
    """What `make run` does: no traceback, no telemetry noise, a summary and the example query."""
    env = {k: "" for k in ("WIREHOUSE_ALLOW_PRIVATE_HOSTS", "WIREHOUSE_HOST_DELAY")}  # the demo sets its own
    env["PREFECT_API_URL"] = ""
    port = str(free_port())  # the default port may be taken on a shared machine
    result = wirehouse(
        "demo", "--port", port, "--warehouse", str(tmp_path / "demo.duckdb"), env=env, cwd=tmp_path
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for noise in ("Traceback", "CancelledError", "telemetry", "ERROR"):
        assert noise not in output
    assert "articles stored:" in result.stdout
    assert "progress: feeds 3/3, articles 23/23" in output  # plain progress lines when not a terminal
    assert "language" in result.stdout and "de " in result.stdout
    # Every feature shows on the day it is run: a search hit and stories published today.
    search = result.stdout.split('$ wirehouse search "Nato Ostflanke"')[1].split("$ ")[0]
    assert "Nato-Verteidigungsminister" in search
    today = result.stdout.split("top_stories_today.sql")[1]
    assert "(0 rows)" not in today and "Saltmarsh Bay" in today


def test_search_export_and_stats_commands(warehouse_path, tmp_path, capsys):
    from tests.warehouse.test_articles import OTHER, WIRE

    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [art(1, text=WIRE, language="de"), art(2, text=OTHER, language="de")], "r")
    path = str(warehouse_path)
    # Stored without a run scope, so not indexed yet: the search catches the index up first.
    assert main(["search", "Munition", "--warehouse", path]) == 0
    assert "https://x.example/1" in capsys.readouterr().out
    assert main(["search", "--rebuild", "--warehouse", path]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "search",
                "Munitionsvorräte Verteidigungsminister",
                "--lang",
                "de",
                "--format",
                "json",
                "--warehouse",
                path,
            ]
        )
        == 0
    )
    hits = json.loads(capsys.readouterr().out)
    assert [h["url"] for h in hits] == ["https://x.example/1"]
    assert "**" in hits[0]["snippet"]
    assert main(["stats", "--format", "json", "--warehouse", path]) == 0
    assert "https://x.example/rss" in capsys.readouterr().out
    assert main(["export", "--format", "parquet", str(tmp_path / "out"), "--warehouse", path]) == 0
    import duckdb

    count = duckdb.sql(
        "select count(*) from read_parquet(?, hive_partitioning = true)",
        params=[str(tmp_path / "out" / "articles" / "**" / "*.parquet")],
    ).fetchone()[0]
    assert count == 2


def test_progress_bar_follows_progress_records():
    import logging

    from rich.console import Console

    from pipeline.schedule import Progress
    from wirehouse.progress import ProgressBar

    bar = ProgressBar(Console(file=io.StringIO()))
    progress = Progress(feeds_total=4, feeds_done=4, articles_total=10, articles_done=6)
    record = logging.LogRecord("prefect.flow_runs", logging.INFO, __file__, 1, progress.line(), None, None)
    record.__dict__.update(progress.as_extra())
    bar.emit(record)
    tasks = {t.description: (t.completed, t.total) for t in bar.progress.tasks}
    assert tasks == {"feeds": (4, 4), "articles": (6, 10)}
    assert progress.line() == "progress: feeds 4/4, articles 6/10"


def test_progress_lines_are_throttled():
    from pipeline.schedule import Progress

    progress = Progress(feeds_total=3, articles_total=0, every=2.0)
    progress.feeds_done = 1
    assert progress.due(100.0) is True
    progress.feeds_done = 2
    assert progress.due(100.5) is False  # too soon
    progress.feeds_done = 3
    assert progress.due(100.6) is True  # finished: always reported


def test_feeds_reset_enable_and_disable_undo_what_health_did(tmp_path, capsys):
    from datetime import UTC, datetime

    from core.records import FeedFetch
    from warehouse.feeds import store_fetches

    (tmp_path / "f.opml").write_text(
        '<opml version="2.0"><body><outline text="A" xmlUrl="https://a.example/rss"/>'
        '<outline text="B" xmlUrl="https://b.example/rss"/></body></opml>'
    )
    path = str(tmp_path / "w.duckdb")
    assert main(["feeds", "import", str(tmp_path / "f.opml"), "--warehouse", path]) == 0
    now = datetime.now(UTC)
    failed = FeedFetch(
        "https://a.example/rss", now, now, http_status=503, error="busy", error_reason="http_503"
    )
    gone = FeedFetch(
        "https://b.example/rss", now, now, http_status=410, error="gone", error_reason="http_410"
    )
    with open_warehouse(Path(path)) as con:
        store_fetches(con, [failed, gone], "r1")
        store_fetches(con, [failed], "r2")  # the second failure in a row starts the back-off

    def states():
        assert main(["feeds", "list", "--warehouse", path, "--format", "json"]) == 0
        return {
            r["feed_url"]: (r["state"], r["failures"], r["next_fetch"])
            for r in json.loads(capsys.readouterr().out)
        }

    capsys.readouterr()
    before = states()
    assert before["https://a.example/rss"][1] == 2 and before["https://a.example/rss"][2] != "next run"
    assert before["https://b.example/rss"][0].startswith("retired")

    assert main(["feeds", "reset", "https://a.example/rss", "--warehouse", path]) == 0
    assert "1 feeds reset" in capsys.readouterr().out
    assert main(["feeds", "enable", "https://b.example/rss", "--warehouse", path]) == 0
    capsys.readouterr()
    assert states() == {
        "https://a.example/rss": ("active", 0, "next run"),
        "https://b.example/rss": ("active", 0, "next run"),
    }
    assert main(["feeds", "disable", "--all", "--warehouse", path]) == 0
    assert "2 feeds disabled" in capsys.readouterr().out
    assert {s[0] for s in states().values()} == {"retired: by hand"}


def test_feeds_reset_names_urls_it_does_not_know(tmp_path):
    path = tmp_path / "w.duckdb"
    with open_warehouse(path, migrate=True):
        pass
    assert_one_line_error(
        wirehouse("feeds", "reset", "https://nowhere.example/rss", "--warehouse", str(path)),
        "not a stored feed",
    )
    assert_one_line_error(wirehouse("feeds", "enable", "--warehouse", str(path)), "--all")


def test_feeds_export_round_trips_world_opml(tmp_path, capsys):
    from tasks.feeds import parse_feed_list, parse_opml

    world = ROOT / "feeds" / "world.opml"
    path = str(tmp_path / "w.duckdb")
    assert main(["feeds", "import", str(world), "--warehouse", path]) == 0
    capsys.readouterr()
    assert main(["feeds", "export", "--warehouse", path]) == 0
    exported = capsys.readouterr().out.encode()
    expected = parse_opml(world.read_bytes())

    def key(feeds):
        return sorted((f.url, f.title, f.html_url, f.category) for f in feeds)

    assert key(parse_opml(exported)) == key(expected)
    assert (
        main(["feeds", "export", "--format", "toml", "-o", str(tmp_path / "f.toml"), "--warehouse", path])
        == 0
    )
    assert key(parse_feed_list((tmp_path / "f.toml").read_bytes())) == key(expected)
    # ... and the exported list imports into a fresh warehouse as the same list again
    assert main(["feeds", "import", str(tmp_path / "f.toml"), "--warehouse", str(tmp_path / "x.duckdb")]) == 0
    capsys.readouterr()
    assert main(["feeds", "export", "--warehouse", str(tmp_path / "x.duckdb")]) == 0
    assert key(parse_opml(capsys.readouterr().out.encode())) == key(expected)


def test_feeds_add_finds_a_site_and_stores_it_with_kinds(tmp_path, capsys):
    from tests.support.site import serve_site

    path = str(tmp_path / "w.duckdb")
    with serve_site() as site:
        assert (
            main(["feeds", "add", site.base + "/", "--dry-run", "--warehouse", path, "--format", "json"]) == 0
        )
        out, err = capsys.readouterr()
        found = {row["url"].removeprefix(site.base): row for row in json.loads(out)}
        assert "dry run: nothing stored" in err and not Path(path).exists()
        assert found["/news-sitemap.xml.gz"]["kind"] == "news-sitemap"
        assert found["/pages-sitemap.xml"]["found_via"] == "robots.txt"
        assert (found["/archive-sitemap.xml"]["store"], found["/archive-sitemap.xml"]["note"]) == (
            "no",
            "covered by the index",
        )
        assert main(["feeds", "add", site.base + "/", "--warehouse", path]) == 0
        assert "stored 6 sources" in capsys.readouterr().err
        assert_one_line_error(
            wirehouse("feeds", "add", site.base + "/missing", "--warehouse", path), "HTTP 404"
        )
    assert main(["feeds", "list", "--warehouse", path, "--format", "json"]) == 0
    listed = {row["feed_url"].removeprefix(site.base): row for row in json.loads(capsys.readouterr().out)}
    assert {url: row["kind"] for url, row in listed.items()} == {
        "/news.rss": "rss",
        "/feed.json": "json",
        "/atom.xml": "atom",
        "/sitemap_index.xml": "sitemap",
        "/news-sitemap.xml.gz": "news-sitemap",
        "/pages-sitemap.xml": "sitemap",
    }
    assert {row["category"] for row in listed.values()} == {site.base.removeprefix("http://")}


def test_query_as_of_a_snapshot_and_the_snapshot_list(filled, capsys):
    with open_warehouse(filled) as con:
        store_articles(con, [art(3)], "r2")
    assert main(["snapshots", "--warehouse", str(filled), "--format", "json"]) == 0
    snapshots = json.loads(capsys.readouterr().out)
    newest, before = snapshots[0]["version"], snapshots[1]["version"]
    assert newest > before
    count = ["query", "select count(*) as n from articles", "--warehouse", str(filled), "--format", "csv"]
    assert main([*count, "--as-of", str(before)]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "2"
    assert main([*count, "--as-of", str(newest)]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "3"
    assert main([*count, "--as-of", snapshots[1]["time"]]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "2"
    assert main([*count, "--as-of", "999999"]) == 1
    assert capsys.readouterr().err.startswith("wirehouse: error:")


def test_stats_on_a_shared_lake_says_when_batches_wait_to_be_merged(postgres_catalog, tmp_path, monkeypatch):
    from warehouse.staging import merge_staged, stage_batch

    monkeypatch.setenv("WIREHOUSE_DATA_PATH", str(tmp_path / "data") + os.sep)
    with open_warehouse(postgres_catalog, migrate=True) as con:
        stage_batch(con, [art(1)], "killed-run")
    waiting = wirehouse("stats", "--warehouse", postgres_catalog)
    merge_staged(postgres_catalog)
    merged = wirehouse("stats", "--warehouse", postgres_catalog)
    assert waiting.returncode == 0, waiting.stderr
    assert "1 staged batches are not merged yet" in waiting.stderr
    assert merged.returncode == 0 and "staged" not in merged.stderr


def test_a_bad_shard_is_one_line(tmp_path):
    result = wirehouse("ingest", "--shard", "2/2", "--warehouse", str(tmp_path / "news.sqlite"))
    assert_one_line_error(result, "shard must be I/N")


@pytest.mark.parametrize("mine", [["quotes.parquet"], ["notes.txt", "photo.jpg"]])
def test_export_refuses_a_folder_of_the_users_files_in_one_line_and_exit_2(filled, tmp_path, mine):
    out = tmp_path / "mine"
    out.mkdir()
    for name in mine:
        (out / name).write_text("mine")
    result = wirehouse("export", "--format", "parquet", str(out), "--warehouse", str(filled))
    assert_one_line_error(result, "holds no earlier wirehouse export")
    assert result.returncode == 2
    assert sorted(p.name for p in out.iterdir()) == sorted(mine)
    assert all((out / name).read_text() == "mine" for name in mine)


def test_an_export_killed_midway_never_looks_complete(filled, tmp_path):
    import signal
    import time

    import duckdb

    out = tmp_path / "export"
    command = [sys.executable, "-m", "wirehouse.cli", "export", str(out), "--warehouse", str(filled)]
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT, timeout=120)
    whole = time.monotonic() - started

    def check_complete() -> None:
        marker = json.loads((out / "_wirehouse_export.json").read_text())
        glob = str(out / "articles" / "**" / "*.parquet")
        rows = duckdb.sql("select count(*) from read_parquet(?)", params=[glob]).fetchone()
        assert rows == (marker["articles"],) == (2,)
        assert (out / "quotes.parquet").is_file() and (out / "stories.parquet").is_file()

    # Killed at points through the run (most of a short export is start-up, so many points late in it):
    # the folder is the earlier export or the new one, whole, never a mix or a part (or, killed between
    # the two renames of the swap, absent, with the earlier export in a hidden folder beside it).
    for fraction in (0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98):
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(whole * fraction)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        if not out.exists():
            continue
        assert sorted(p.name for p in out.iterdir()) == [
            "_wirehouse_export.json",
            "articles",
            "quotes.parquet",
            "stories.parquet",
        ]
        check_complete()
    # What a kill leaves beside the folder is hidden and never stops the next export.
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT, timeout=120)
    check_complete()


def test_feeds_import_takes_a_single_feed_and_names_a_bad_url_list_line(newsroom, tmp_path, capsys):
    path = str(tmp_path / "w.sqlite")
    feed = f"{newsroom.base}/feeds/inland.rss"
    assert main(["feeds", "import", feed, "--warehouse", path]) == 0
    assert "imported 1 feeds" in capsys.readouterr().out
    assert main(["feeds", "list", "--warehouse", path, "--format", "json"]) == 0
    assert [row["feed_url"] for row in json.loads(capsys.readouterr().out)] == [feed]
    (tmp_path / "feeds.txt").write_text("https://a.example/rss\n\nwww.example.org/rss\n")
    result = wirehouse("ingest", "--feeds", str(tmp_path / "feeds.txt"), "--warehouse", path)
    assert_one_line_error(result, "feeds.txt line 3: not a URL: 'www.example.org/rss'")


def test_reprocess_refuses_an_unknown_status_listing_the_valid_ones(filled):
    result = wirehouse("reprocess", "--status", "bogus", "--warehouse", str(filled))
    assert_one_line_error(
        result,
        "unknown --status 'bogus'; the extraction statuses are ok, fetch_failed, http_error, not_html,"
        " login_page, consent_wall, paywall, listing, error_page, no_text, error",
    )


def test_feeds_add_that_finds_nothing_prints_only_the_error(tmp_path):
    for fmt in ("table", "csv"):
        result = wirehouse(
            "feeds",
            "add",
            f"http://127.0.0.1:{free_port()}/",
            "--format",
            fmt,
            "--warehouse",
            str(tmp_path / "w.sqlite"),
        )
        assert_one_line_error(result, "127.0.0.1")
        assert result.stdout == ""


def test_a_query_of_several_statements_prints_each_result(filled, capsys):
    sql = "select 1 as one; select count(*) as n from articles;\n-- the languages\nselect language from articles order by 1"
    assert main(["query", sql, "--warehouse", str(filled)]) == 0
    assert capsys.readouterr().out == (
        "one\n---\n1\n(1 row)\n\nn\n-\n2\n(1 row)\n\nlanguage\n--------\nde\nfr\n(2 rows)\n"
    )
    assert main(["query", sql, "--warehouse", str(filled), "--format", "json"]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [
        [{"one": 1}],
        [{"n": 2}],
        [{"language": "de"}, {"language": "fr"}],
    ]
    result = wirehouse("query", "select 1; select nope from articles", "--warehouse", str(filled))
    assert_one_line_error(result, "SQL error: statement 2 of 2: Binder Error")
    assert result.stdout == ""


def test_snapshots_speak_of_articles_not_of_ducklake_internals(filled, capsys):
    assert main(["snapshots", "--warehouse", str(filled), "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "version",
        "time",
        "articles_added",
        "articles_changed",
        "articles_removed",
        "changes",
    ]
    assert out.splitlines()[2].split()[3:] == ["2", "0", "0", "articles,", "raw", "pages"]
    assert "inlined" not in out and "tables_" not in out


def in_terminal(args, columns):
    """Run wirehouse with its stdout on a real pseudo-terminal this many columns wide."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES"}}
    process = subprocess.Popen(
        [sys.executable, "-m", "wirehouse.cli", *args],
        stdout=follower,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal's other side closed: the process is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=120) == 0, process.stderr.read() if process.stderr else ""
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_feeds_list_fits_the_terminal_and_wide_or_columns_show_what_is_asked(tmp_path):
    path = str(tmp_path / "w.sqlite")
    long = "https://www.example.org/" + "nachrichten/" * 4 + "rss.xml"
    (tmp_path / "feeds.txt").write_text(f"{long}\nhttps://b.example/rss\n")
    assert main(["feeds", "import", str(tmp_path / "feeds.txt"), "--warehouse", path]) == 0
    fitted = in_terminal(["feeds", "list", "--warehouse", path], 100).splitlines()
    assert max(map(len, fitted)) <= 100 and fitted[0].startswith("feed_url")
    assert "hidden" in fitted[-1] and "--wide shows all" in fitted[-1]
    wide = in_terminal(["feeds", "list", "--warehouse", path, "--wide"], 100).splitlines()
    assert max(map(len, wide)) > 100 and len(wide[0].split()) == 12 and long in wide[2] + wide[3]
    chosen = in_terminal(["feeds", "list", "--warehouse", path, "--columns", "state,feed_url"], 100)
    assert chosen.splitlines()[0].split() == ["state", "feed_url"] and long[:59] + "…" in chosen
    # A pipe gets every column, as before.
    piped = wirehouse("feeds", "list", "--warehouse", path)
    assert piped.returncode == 0 and len(piped.stdout.splitlines()[0].split()) == 12
    assert_one_line_error(
        wirehouse("feeds", "list", "--warehouse", path, "--columns", "url"),
        "--columns: no column 'url'; the columns are feed_url, title,",
    )


def test_search_fits_the_terminal_and_takes_columns(warehouse_path, capsys):
    from tests.warehouse.test_articles import OTHER, WIRE

    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [art(1, text=WIRE, language="de"), art(2, text=OTHER, language="de")], "r")
    path = str(warehouse_path)
    assert main(["search", "--rebuild", "--warehouse", path]) == 0
    words = "Munitionsvorräte Verteidigungsminister"
    assert main(["search", words, "--columns", "url,title", "--format", "json", "--warehouse", path]) == 0
    assert json.loads(capsys.readouterr().out) == [{"url": "https://x.example/1", "title": "T1"}]
    fitted = in_terminal(["search", words, "--warehouse", path], 80).splitlines()
    assert max(map(len, fitted)) <= 80 and fitted[0].split()[:2] == ["score", "published_at"]
