"""The backfill flow: archives from disk, http and s3 into the warehouse, once, resumable, filtered."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.backfill import backfill
from tests.conftest import free_port
from tests.support.warcfiles import Capture, page, warc_member, write_arc, write_warc
from warehouse.connection import connect

pytestmark = pytest.mark.usefixtures("prefect_harness")

ENGLISH = [
    "The city council met on Monday evening to discuss the new harbour bridge, which has been delayed "
    "for two years by rising costs and long disputes over its design.",
    "Residents said they were tired of waiting for the work to begin. One shop owner said the town had "
    "been promised a bridge before the last election and had seen nothing since.",
    "The mayor said the builders would start in the spring and that the money needed had been found "
    "in the regional budget after months of talks with the government.",
]
GERMAN = [
    "Der Stadtrat hat am Montagabend über die neue Hafenbrücke beraten, deren Bau sich wegen steigender "
    "Kosten und eines langen Streits über die Gestaltung um zwei Jahre verzögert hat.",
    "Viele Anwohner sagten, sie seien das Warten leid. Eine Ladenbesitzerin erinnerte daran, dass die "
    "Brücke schon vor der letzten Wahl versprochen worden sei und seitdem nichts geschehen sei.",
    "Der Bürgermeister kündigte an, die Arbeiten würden im Frühjahr beginnen, das nötige Geld sei nach "
    "monatelangen Gesprächen mit der Landesregierung im Haushalt gefunden worden.",
]


def story(
    host: str,
    number: int,
    *,
    lang: str = "en",
    published: str = "2024-10-20T08:00:00Z",
    captured: str = "2024-10-28T09:00:00Z",
) -> Capture:
    paragraphs = ENGLISH if lang == "en" else GERMAN
    text = [f"{p} (Report {number} from {host}.)" for p in paragraphs]
    body = page(f"Harbour bridge, part {number}", text, lang, published)
    return Capture(f"https://{host}/news/{number}", body, date=captured)


def rows(path: Path, sql: str) -> list[tuple]:
    con = connect(path, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_backfill_stores_pages_with_their_source_once_and_counts_problems(tmp_path, warehouse_path):
    pages = [story("harbour.example", n) for n in range(4)]
    members = [warc_member(c) for c in pages]
    bad = [
        warc_member(Capture("https://harbour.example/logo.png", b"\x89PNG\r\n", content_type="image/png")),
        warc_member(Capture("https://harbour.example/old", page("Gone", ["gone"]), status="404 Not Found")),
        b"\x1f\x8b\x08\x00 broken member",
        # The same article again, under a tracking parameter: one article.
        warc_member(Capture(pages[0].url + "?utm_source=feed", pages[0].body)),
    ]
    warc = tmp_path / "crawl-1.warc.gz"
    warc.write_bytes(members[0] + members[1] + bad[0] + bad[1] + bad[2] + members[2] + members[3] + bad[3])
    arc = write_arc(tmp_path / "crawl-2.arc.gz", [story("old.example", n) for n in range(2)])

    summary = backfill(sources=[str(tmp_path / "crawl-*")], warehouse=str(warehouse_path), batch_size=3)

    assert [(f.source, f.stored, f.failed, f.already_loaded, f.error) for f in summary.files] == [
        (str(warc), 4, 3, False, None),
        (str(arc), 2, 0, False, None),
    ]
    stored = rows(
        warehouse_path,
        "select url, feed_url, source_file, source_record is not null, source_offset, extraction_status,"
        " language from articles order by url",
    )
    offsets = [0, len(members[0]), len(b"".join(members[:2] + bad[:3]))]
    assert [r[0] for r in stored] == sorted(
        [*(c.url for c in pages), *(f"https://old.example/news/{n}" for n in range(2))]
    )
    by_url = {r[0]: r for r in stored}
    assert by_url[pages[0].url][1:5] == (None, str(warc), True, 0)
    assert by_url[pages[1].url][4] == offsets[1] and by_url[pages[2].url][4] == offsets[2]
    assert by_url["https://old.example/news/1"][2:4] == (str(arc), False)  # ARC records have no ids
    assert {r[5] for r in stored} == {"ok"} and {r[6] for r in stored} == {"en"}
    failures = rows(
        warehouse_path,
        "select kind, url, stage, error_class, http_status from failures order by error_class",
    )
    assert failures == [
        ("archive", str(warc), "read_archive", "broken_gzip", None),
        ("archive", "https://harbour.example/old", "read_archive", "http_error", 404),
        ("archive", "https://harbour.example/logo.png", "read_archive", "not_html", 200),
    ]

    again = backfill(sources=[str(warc), str(arc)], warehouse=str(warehouse_path))
    assert [f.already_loaded for f in again.files] == [True, True]
    assert rows(warehouse_path, "select count(*), count(distinct url) from articles") == [(6, 6)]
    assert rows(warehouse_path, "select count(*) from failures") == [(3,)]
    assert rows(
        warehouse_path, "select source_file, records, stored, skipped, failed from archive_files order by 1"
    ) == [
        (str(warc), 7, 4, 1, 3),
        (str(arc), 2, 2, 0, 0),
    ]


def test_filters_take_what_is_asked_and_a_later_unfiltered_run_the_rest(tmp_path, warehouse_path):
    captures = [
        story("www.harbour.example", 1, lang="de", published="2024-10-20T08:00:00Z"),  # wanted
        story("harbour.example", 2, lang="en", published="2024-10-20T08:00:00Z"),  # English
        story("harbour.example", 3, lang="de", published="2024-09-01T08:00:00Z"),  # too early
        # too late (published after the capture date would be no publication date at all):
        story(
            "harbour.example", 4, lang="de", published="2024-11-02T08:00:00Z", captured="2024-11-03T09:00:00Z"
        ),
        story("elsewhere.example", 5, lang="de", published="2024-10-20T08:00:00Z"),  # other host
        story("news.harbour.example", 6, lang="de", published="2024-10-21T08:00:00Z"),  # wanted
    ]
    warc = write_warc(tmp_path / "mixed.warc.gz", captures)
    summary = backfill(
        sources=[str(warc)],
        warehouse=str(warehouse_path),
        host="harbour.example, other.example",
        lang="de",
        since="2024-10-01",
        until="2024-11-01",
    )
    assert rows(warehouse_path, "select url from articles order by url") == [
        (captures[5].url,),
        (captures[0].url,),
    ]
    (load,) = summary.files
    assert (load.records, load.stored, load.skipped) == (6, 2, 4)
    assert rows(warehouse_path, "select filters from archive_files") == [
        (
            "host=harbour.example,other.example lang=de since=2024-10-01T00:00:00+00:00 until=2024-11-01T00:00:00+00:00",
        )
    ]
    # Loaded with filters is not loaded for everything: a run without them takes the rest.
    (rest,) = backfill(sources=[str(warc)], warehouse=str(warehouse_path)).files
    assert (rest.already_loaded, rest.stored, rest.skipped) == (False, 4, 2)
    assert rows(warehouse_path, "select count(*) from articles") == [(6,)]
    (after,) = backfill(sources=[str(warc)], warehouse=str(warehouse_path), lang="en").files
    assert after.already_loaded  # everything was taken


def test_backfill_from_s3_and_http(tmp_path, warehouse_path, monkeypatch, httpserver):
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="crawl")
        for day in (1, 2):
            body = write_warc(tmp_path / f"d{day}.warc.gz", [story(f"day{day}.example", n) for n in range(2)])
            s3.put_object(Bucket="crawl", Key=f"news/2024/10/0{day}.warc.gz", Body=body.read_bytes())
        s3.put_object(Bucket="crawl", Key="news/2024/10/index.txt", Body=b"not an archive")
        served = write_warc(tmp_path / "served.warc.gz", [story("served.example", 1)])
        httpserver.expect_request("/archives/served.warc.gz").respond_with_data(served.read_bytes())
        url = httpserver.url_for("/archives/served.warc.gz")

        summary = backfill(sources=["s3://crawl/news/2024/*/*.warc.gz", url], warehouse=str(warehouse_path))

        assert [(f.source, f.stored) for f in summary.files] == [
            ("s3://crawl/news/2024/10/01.warc.gz", 2),
            ("s3://crawl/news/2024/10/02.warc.gz", 2),
            (url, 1),
        ]
        assert rows(warehouse_path, "select source_file, count(*) from articles group by 1 order by 1") == [
            (url, 1),
            ("s3://crawl/news/2024/10/01.warc.gz", 2),
            ("s3://crawl/news/2024/10/02.warc.gz", 2),
        ]
        missing = backfill(sources=["s3://crawl/news/2024/10/09.warc.gz"], warehouse=str(warehouse_path))
        assert "cannot read s3://crawl/news/2024/10/09.warc.gz" in (missing.files[0].error or "")
    finally:
        server.stop()


def test_cli_says_in_one_line_what_is_wrong_with_an_archive(tmp_path, warehouse_path, capsys):
    from wirehouse.cli import main

    good = write_warc(tmp_path / "good.warc.gz", [story("fine.example", 1)])
    junk = tmp_path / "junk.warc.gz"
    junk.write_bytes(b"this is no archive at all\n" * 20)
    assert main(["backfill", str(good), str(junk), "--warehouse", str(warehouse_path)]) == 1
    out, err = capsys.readouterr()
    assert "archives: 1 loaded, 0 loaded before (skipped), 1 failed" in out
    assert err.strip().count("\n") == 0
    assert err.startswith(f"wirehouse: error: {junk}: not a readable WARC or ARC file")
    assert rows(warehouse_path, "select count(*) from articles") == [(1,)]
    assert main(["backfill", str(tmp_path / "nothing-*.warc.gz"), "--warehouse", str(warehouse_path)]) == 1
    assert (
        capsys.readouterr().err.strip()
        == f"wirehouse: error: no archive file matches {tmp_path / 'nothing-*.warc.gz'}"
    )
    assert main(["backfill", str(good), "--since", "yesterday", "--warehouse", str(warehouse_path)]) == 1
    assert "not an ISO date" in capsys.readouterr().err


def start_backfill(sources: list[str], path: Path, cwd: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ}
    env.pop("PREFECT_API_URL", None)  # its own temporary server, killed with it
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wirehouse.cli",
            "backfill",
            *sources,
            "--warehouse",
            str(path),
            "--batch-size",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env=env,
        start_new_session=True,  # its own process group: the kill takes the workers and the server too
    )


def stored_count(path: Path) -> int:
    try:
        return int(rows(path, "select count(*) from article_store")[0][0])
    except Exception:  # not created yet
        return 0


def test_a_killed_backfill_rerun_stores_every_record_exactly_once(tmp_path):
    files = []
    for number in range(3):
        captures = [story(f"site{number}.example", n) for n in range(14)]
        if number == 2:  # one article that file 0 has too: stored once, by whichever comes first
            captures.append(story("site0.example", 3))
        files.append(str(write_warc(tmp_path / f"part-{number}.warc.gz", captures)))
    path = tmp_path / "killed.sqlite"
    expected = 3 * 14

    proc = start_backfill(files, path, tmp_path)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None and stored_count(path) < 6:
        time.sleep(0.3)
    assert proc.poll() is None, proc.communicate()[0].decode()[-2000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    killed_at = stored_count(path)
    assert 0 < killed_at < expected  # the kill landed mid-way

    proc = start_backfill(files, path, tmp_path)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out.decode()[-2000:]
    assert rows(path, "select count(*), count(distinct url) from articles") == [(expected, expected)]
    wanted = {c.url for n in range(3) for c in (story(f"site{n}.example", i) for i in range(14))}
    assert {r[0] for r in rows(path, "select url from articles")} == wanted
    assert rows(path, "select count(*), count(distinct source_file) from archive_files") == [(3, 3)]
    assert rows(path, "select count(*) from raw_pages") == [(expected,)]


def test_backfill_into_a_shared_lake_stages_merges_and_skips_on_rerun(
    postgres_catalog, tmp_path, monkeypatch
):
    monkeypatch.setenv("WIREHOUSE_DATA_PATH", str(tmp_path / "shared-data") + os.sep)
    warc = write_warc(tmp_path / "shared.warc.gz", [story("lake.example", n) for n in range(5)])
    (load,) = backfill(sources=[str(warc)], warehouse=postgres_catalog, batch_size=2).files
    assert (load.stored, load.error) == (5, None)
    con = connect(postgres_catalog, read_only=True)
    try:
        assert con.execute("select count(*), count(distinct url) from articles").fetchone() == (5, 5)
        assert con.execute(
            "select count(*) from staged_batches where batch_id not in (select batch_id from merged_batches)"
        ).fetchone() == (0,)  # every staged batch merged before the run ended
        assert con.execute("select source_file from archive_files").fetchall() == [(str(warc),)]
    finally:
        con.close()
    (again,) = backfill(sources=[str(warc)], warehouse=postgres_catalog).files
    assert again.already_loaded
