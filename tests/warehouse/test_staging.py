"""Staged batches: many writers append, one merger folds them in by URL, each batch exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import fields
from datetime import timedelta
from pathlib import Path

import pytest

from core.records import Article, Quote
from tests.warehouse.test_articles import art, entry
from warehouse.articles import known_urls
from warehouse.connection import open_warehouse, write_lock
from warehouse.maintenance import upkeep
from warehouse.staging import (
    decode_batch,
    encode_batch,
    merge_staged,
    pending_batches,
    save_batch,
    stage_batch,
)

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def shared(postgres_catalog, tmp_path, monkeypatch):
    """A lake with a PostgreSQL catalog and its data in a temporary folder."""
    monkeypatch.setenv("WIREHOUSE_DATA_PATH", str(tmp_path / "data") + os.sep)
    with open_warehouse(postgres_catalog, migrate=True):
        pass
    return postgres_catalog


def urls(con):
    return [row[0] for row in con.execute("select url from articles order by url").fetchall()]


def test_a_batch_survives_staging_field_for_field():
    article = art(
        1,
        quotes=(Quote(0, "Wir schaffen das", 5, 21),),
        keywords=("nato", "ostflanke"),
        fingerprint=b"\x00\x01\xff",
        paywalled=True,
        charset="iso-8859-1",
        raw_html=None,
        raw_html_zlib=b"zlib bytes",
    )
    (back,) = decode_batch(encode_batch([article]))
    for field in fields(Article):
        assert getattr(back, field.name) == getattr(article, field.name), field.name


def test_raw_html_is_staged_compressed():
    (back,) = decode_batch(encode_batch([art(2)]))  # art() carries uncompressed raw HTML
    assert back.raw_html is None
    assert back.raw_html_zlib


def test_an_embedded_lake_stores_directly(warehouse_path):
    with open_warehouse(warehouse_path, migrate=True):
        pass
    save_batch(warehouse_path, [art(1), art(2)], "run-1")
    with open_warehouse(warehouse_path) as con:
        assert urls(con) == ["https://x.example/1", "https://x.example/2"]
        assert pending_batches(con) == 0
        assert con.execute("select count(*) from staged_batches").fetchone()[0] == 0


def test_two_writers_staging_one_url_leave_one_row(shared):
    with open_warehouse(shared) as con:
        stage_batch(con, [art(1), art(2)], "writer-a")
        stage_batch(con, [art(2, title="other copy"), art(3)], "writer-b")
        assert pending_batches(con) == 2
        assert urls(con) == []  # nothing is visible before the merge
    result = merge_staged(shared)
    assert (result.batches, result.articles) == (2, 4)
    with open_warehouse(shared) as con:
        assert urls(con) == [f"https://x.example/{n}" for n in (1, 2, 3)]
        # the first staged copy won; the second found the URL settled
        assert con.execute("select title from articles where url like '%/2'").fetchone()[0] == "T2"
        assert pending_batches(con) == 0
        merged = con.execute("select count(*), count(distinct batch_id) from merged_batches").fetchone()
        assert merged == (2, 2)
    assert merge_staged(shared).batches == 0  # merging again finds nothing


def test_staged_urls_count_as_known(shared):
    with open_warehouse(shared) as con:
        stage_batch(con, [art(7)], "writer-a")
        assert known_urls(con, [entry(7), entry(8)]) == {"https://x.example/7"}
    merge_staged(shared)
    with open_warehouse(shared) as con:
        assert known_urls(con, [entry(7), entry(8)]) == {"https://x.example/7"}


def test_a_writer_does_not_wait_while_another_merges(shared):
    with write_lock(shared):  # another writer's merge is under way
        locked_out = subprocess.run(
            [sys.executable, "-c", _SAVE_ONE.format(warehouse=shared)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    assert locked_out.returncode == 0, locked_out.stderr
    assert locked_out.stdout.split() == ["staged", "1"]  # staged, and left for the merger
    assert merge_staged(shared).batches == 1
    with open_warehouse(shared) as con:
        assert urls(con) == ["https://x.example/9"]


_SAVE_ONE = textwrap.dedent(
    """
    from tests.warehouse.test_articles import art
    from warehouse.connection import open_warehouse
    from warehouse.staging import merge_staged, pending_batches, save_batch

    save_batch({warehouse!r}, [art(9)], "writer-b")
    with open_warehouse({warehouse!r}) as con:
        print("staged", pending_batches(con))
    """
)


def test_a_bad_article_in_a_staged_batch_becomes_an_error_row(shared):
    from datetime import UTC, datetime

    from tests.pipeline.test_batch import _article

    # Year 1 overflows the wire-copy window arithmetic (what validation would have dropped).
    poison = _article(2, published_at=datetime(1, 1, 1, tzinfo=UTC))
    batch = [_article(1), poison, _article(3)]
    with open_warehouse(shared) as con:
        stage_batch(con, batch, "writer-a")
    assert merge_staged(shared).batches == 1
    with open_warehouse(shared) as con:
        rows = dict(con.execute("select url, extraction_status from articles").fetchall())
        assert pending_batches(con) == 0
        assert con.execute("select count(*) from merged_batches").fetchone()[0] == 1
    assert rows == {a.url: ("error" if a is poison else "ok") for a in batch}


def test_maintenance_drops_merged_batches_from_staging(shared):
    with open_warehouse(shared) as con:
        stage_batch(con, [art(1)], "writer-a")
    merge_staged(shared)
    with open_warehouse(shared) as con:
        stage_batch(con, [art(2)], "writer-a")  # pending: must stay
        upkeep(con, keep_snapshots=timedelta(days=7), file_grace=timedelta(minutes=5))
        assert con.execute("select count(*) from staged_batches").fetchone()[0] == 1
        assert con.execute("select count(*) from merged_batches").fetchone()[0] == 0
        assert pending_batches(con) == 1


def test_a_staged_reprocessing_batch_replaces_what_is_stored(shared):
    save_batch(shared, [art(1)], "ingest-run")
    with open_warehouse(shared) as con:
        stage_batch(con, [art(1, title="better title")], "reprocess-run", replace=True)
        assert pending_batches(con) == 1
    assert merge_staged(shared).batches == 1
    with open_warehouse(shared) as con:
        row = con.execute("select title, run_id from articles").fetchall()
    assert row == [("better title", "reprocess-run")]


_WRITER = textwrap.dedent(
    """
    import sys
    from tests.warehouse.test_articles import art
    from warehouse.staging import merge_staged, save_batch

    warehouse, first = sys.argv[1], int(sys.argv[2])
    for batch in range(6):  # batches of 5 URLs; each writer's range overlaps the next writer's
        start = first + batch * 5
        save_batch(warehouse, [art(n) for n in range(start, start + 5)], f"writer-{first}")
    merge_staged(warehouse)  # the run's last merge: waits for the lock, drops merged batches
    print("done")
    """
)


def test_writers_in_separate_processes_stage_and_merge_at_once(shared):
    # Three processes write at once: their appends race each other's merges and drops of merged
    # batches, and their merges race for the lock. Writer k stores URLs 15k .. 15k+29: 15 shared.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, shared, str(15 * k)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        for k in range(3)
    ]
    results = [w.communicate(timeout=600) for w in writers]
    for writer, (out, err) in zip(writers, results, strict=True):
        assert writer.returncode == 0 and out.split() == ["done"], err[-3000:]
    with open_warehouse(shared) as con:
        stored = urls(con)
        assert pending_batches(con) == 0
        ledger = con.execute("select count(*), count(distinct batch_id) from merged_batches").fetchone()
    assert len(stored) == len(set(stored)) == 15 * 2 + 30  # no URL twice, none lost
    assert ledger == (18, 18)  # every batch merged exactly once


def test_threads_of_one_process_share_the_lock_and_the_first_holder_waits_for_the_others(shared):
    import threading

    from warehouse.lake import lake_of
    from warehouse.locks import _LOCKS_DB, _PG_HOLDER, _PG_QUERY, _lock_connection

    def holder():
        con = _lock_connection(lake_of(shared))
        try:
            row = con.execute(_PG_QUERY, [_LOCKS_DB, _PG_HOLDER]).fetchone()
        finally:
            con.close()
        return row[0] if row else None

    inside, leave = threading.Event(), threading.Event()
    seen_while_inside = []

    def second():
        with write_lock(shared):
            inside.set()
            leave.wait(30)
            seen_while_inside.append(holder())

    with write_lock(shared):
        thread = threading.Thread(target=second)
        thread.start()
        assert inside.wait(30)
        first_holder = holder()
        threading.Timer(0.5, leave.set).start()
    # The first holder's block has ended, but it released the lock only after the second thread left.
    thread.join(30)
    assert seen_while_inside == [first_holder] and first_holder is not None
    assert holder() is None


def test_a_merge_that_lost_its_lock_commits_nothing(shared):
    from warehouse.lake import WarehouseBusyError, lake_of
    from warehouse.locks import _LOCKS_DB, _PG_EXECUTE, _lock_connection

    with open_warehouse(shared) as con:
        stage_batch(con, [art(1)], "writer-a")
    with write_lock(shared):
        # Another machine took the lock: our lease ran out while this process stalled.
        con = _lock_connection(lake_of(shared))
        try:
            con.execute(_PG_EXECUTE, [_LOCKS_DB, "UPDATE wirehouse_run_lock SET holder = 'another-machine'"])
        finally:
            con.close()
        with pytest.raises(WarehouseBusyError, match="lost the lock"):
            merge_staged(shared)
    with open_warehouse(shared) as con:
        assert urls(con) == [] and pending_batches(con) == 1  # rolled back; still waiting


def test_a_staged_batch_that_cannot_be_read_is_set_aside_and_the_rest_merged(shared):
    with open_warehouse(shared) as con:
        con.execute(
            "INSERT INTO staged_batches VALUES ('damaged', 'writer-x', false, ['https://x.example/0'],"
            " now(), '\\x00\\x01'::BLOB)"
        )
        stage_batch(con, [art(1)], "writer-a")
    assert merge_staged(shared).batches == 2
    with open_warehouse(shared) as con:
        assert urls(con) == ["https://x.example/1"]
        assert pending_batches(con) == 0
        assert con.execute("select articles from merged_batches where batch_id = 'damaged'").fetchone() == (
            -1,
        )


def test_an_index_on_another_machine_catches_up_from_the_change_feed(shared, tmp_path):
    from warehouse.search import catch_up_search_index, search

    elsewhere = tmp_path / "other-machine.search"  # another machine's index of the same lake
    save_batch(shared, [art(1, text="Brüssel berät über die Nato-Ostflanke")], "machine-a")
    merge_staged(shared)
    with open_warehouse(shared) as con:
        assert catch_up_search_index(con, elsewhere) == 1  # first time: built from the lake
        assert catch_up_search_index(con, elsewhere) == 0  # nothing new
    save_batch(shared, [art(2, text="Die Ostflanke wird verstärkt"), art(3, text="Wetter")], "machine-a")
    merge_staged(shared)
    with open_warehouse(shared) as con:
        assert catch_up_search_index(con, elsewhere) == 2  # only what changed since
        found = {hit.url for hit in search(con, elsewhere, "Ostflanke")}
    assert found == {"https://x.example/1", "https://x.example/2"}
