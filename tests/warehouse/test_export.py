import json
from datetime import UTC, date, datetime

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from core.records import Article, FeedSource, Quote
from tasks.export import EXPORT_MARKER, STATS_COLUMNS, ExportError, ExportRefusedError
from warehouse.articles import store_articles
from warehouse.connection import open_warehouse
from warehouse.export import export_parquet, warehouse_stats
from warehouse.feeds import save_feeds

NOW = datetime(2024, 10, 28, 23, 30, tzinfo=UTC)


def art(n, language="de", published_at=NOW, status="ok", feed="https://a.example/rss", quotes=()):
    return Article(
        url=f"https://a.example/{n}",
        feed_url=feed,
        link=f"https://a.example/{n}",
        guid=f"g{n}",
        title=f"T{n}",
        text=f"text {n}",
        fetched_at=NOW,
        extraction_status=status,
        language=language,
        published_at=published_at,
        authors=("A",),
        quotes=quotes,
    )


ARTICLES = [
    art(1, quotes=(Quote(1, "ja", 0, 2), Quote(2, "nein", 3, 7))),
    art(2, language="en"),
    art(3, language="../x"),  # hostile partition value
    art(4, language=None, published_at=None),  # partitioned by fetch day, language NULL -> und
    art(5, published_at=datetime(2024, 10, 20, 8, tzinfo=UTC), feed="https://b.example/rss"),
    art(6, status="http_error", feed="https://b.example/rss"),
]


@pytest.fixture
def con(warehouse_path):
    with open_warehouse(warehouse_path, migrate=True) as con:
        save_feeds(con, [FeedSource("https://a.example/rss", title="A")], "test")
        store_articles(con, ARTICLES, "run-1")
        yield con


def test_export_reads_back_with_duckdb(con, tmp_path):
    con.execute("SET TimeZone = 'Asia/Tokyo'")  # partitions stay UTC days whatever the session says
    out = tmp_path / "export"
    stats = export_parquet(con, out)
    assert (stats.articles, stats.quotes, stats.stories) == (6, 2, 6)
    assert stats.files == 5 + 2 and stats.bytes > 0
    check = duckdb.connect()
    glob = str(out / "articles" / "**" / "*.parquet")
    rows = check.execute(
        "SELECT url, date, language FROM read_parquet(?, hive_partitioning = true) ORDER BY url", [glob]
    ).fetchall()
    assert rows == [
        ("https://a.example/1", date(2024, 10, 28), "de"),
        ("https://a.example/2", date(2024, 10, 28), "en"),
        ("https://a.example/3", date(2024, 10, 28), "../x"),
        ("https://a.example/4", date(2024, 10, 28), "und"),
        ("https://a.example/5", date(2024, 10, 20), "de"),
        ("https://a.example/6", date(2024, 10, 28), "de"),
    ]
    types = dict(
        check.execute(
            "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = true))",
            [glob],
        ).fetchall()
    )
    assert types["published_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["authors"] == "VARCHAR[]" and types["word_count"] == "INTEGER"
    assert types["date"] == "DATE"
    assert check.execute(
        "SELECT count(*) FROM read_parquet(?)", [str(out / "quotes.parquet")]
    ).fetchone() == (2,)
    assert check.execute(
        "SELECT sum(size) FROM read_parquet(?)", [str(out / "stories.parquet")]
    ).fetchone() == (6,)


def test_partition_values_never_leave_the_export_folder(con, tmp_path):
    out = tmp_path / "export"
    export_parquet(con, out)
    folders = sorted(p.name for p in (out / "articles" / "date=2024-10-28").iterdir())
    assert folders == ["language=..%2Fx", "language=de", "language=en", "language=und"]
    assert not (tmp_path / "x").exists() and not (out / "x").exists()
    assert sorted(p.name for p in out.iterdir()) == [
        "_wirehouse_export.json",
        "articles",
        "quotes.parquet",
        "stories.parquet",
    ]


def test_export_reads_back_with_pyarrow(con, tmp_path):
    out = tmp_path / "export"
    export_parquet(con, out)
    partitioning = ds.partitioning(
        pa.schema([("date", pa.date32()), ("language", pa.string())]), flavor="hive"
    )
    table = ds.dataset(out / "articles", format="parquet", partitioning=partitioning).to_table()
    assert table.num_rows == 6
    assert table.schema.field("published_at").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("authors").type == pa.list_(pa.string())
    assert table.schema.field("date").type == pa.date32()
    assert sorted(table.column("language").to_pylist(), key=str) == ["../x", "de", "de", "de", "en", "und"]
    quotes = ds.dataset(out / "quotes.parquet").to_table()
    assert quotes.num_rows == 2 and quotes.schema.field("ordinal").type == pa.int32()


def test_export_replaces_an_earlier_export_and_protects_other_folders(con, tmp_path):
    out = tmp_path / "export"
    export_parquet(con, out)
    stale = out / "articles" / "date=2000-01-01" / "language=xx"
    stale.mkdir(parents=True)
    (stale / "articles_0.parquet").write_bytes(b"old")
    export_parquet(con, out)
    assert not stale.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left beside it
    (out / "articles" / "README").write_text("not an export file")
    with pytest.raises(ExportRefusedError, match="also articles/"):
        export_parquet(con, out)
    assert (out / "articles" / "README").exists()


def test_export_into_a_fresh_folder_writes_the_marker(con, tmp_path):
    out = tmp_path / "new" / "export"
    stats = export_parquet(con, out)
    marker = json.loads((out / EXPORT_MARKER).read_text())
    assert marker["wirehouse_export"] == 1 and marker["articles"] == stats.articles == 6
    assert isinstance(marker["snapshot"], int)


def test_export_into_an_empty_existing_folder_keeps_its_mode(con, tmp_path):
    out = tmp_path / "export"
    out.mkdir(mode=0o750)
    out.chmod(0o750)
    export_parquet(con, out)
    assert (out / EXPORT_MARKER).is_file() and (out / "quotes.parquet").is_file()
    assert out.stat().st_mode & 0o777 == 0o750


def test_export_through_a_symlink_writes_into_the_folder_it_names(con, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    export_parquet(con, tmp_path / "link")
    assert (tmp_path / "link").is_symlink() and (real / EXPORT_MARKER).is_file()


def test_export_refuses_a_folder_with_the_users_quotes_parquet(con, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "quotes.parquet").write_text("mine")
    with pytest.raises(ExportRefusedError, match=r"holds no earlier wirehouse export \(quotes.parquet\)"):
        export_parquet(con, out)
    assert (out / "quotes.parquet").read_text() == "mine"
    lake_files = {
        "news.data",
        "news.sqlite",
        "news.sqlite-wal",
        "news.sqlite-shm",
        "news.keys",
        "news.keys-wal",
        "news.keys-shm",
    }
    assert {p.name for p in tmp_path.iterdir()} - lake_files == {"mine"}


def test_export_refuses_a_folder_of_unrelated_files(con, tmp_path):
    out = tmp_path / "docs"
    out.mkdir()
    for name in ("notes.txt", "a.csv", "b.csv", "c.csv"):
        (out / name).write_text(name)
    with pytest.raises(ExportRefusedError, match=r"a\.csv, b\.csv, c\.csv and 1 more"):
        export_parquet(con, out)
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "b.csv", "c.csv", "notes.txt"]


def test_export_refuses_an_earlier_export_the_user_added_files_to(con, tmp_path):
    out = tmp_path / "export"
    export_parquet(con, out)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ExportRefusedError, match=r"also notes\.txt"):
        export_parquet(con, out)
    assert (out / "notes.txt").read_text() == "mine"


def test_export_replaces_an_export_written_before_the_marker(con, tmp_path):
    out = tmp_path / "export"
    export_parquet(con, out)
    (out / EXPORT_MARKER).unlink()  # what exports looked like before (the maintenance flow's exports/)
    export_parquet(con, out)
    assert (out / EXPORT_MARKER).is_file()
    (out / EXPORT_MARKER).unlink()
    (out / "stories.parquet").write_text("not parquet")  # not all Parquet: not taken for an export
    with pytest.raises(ExportRefusedError):
        export_parquet(con, out)
    assert (out / "stories.parquet").read_text() == "not parquet"


def test_export_of_an_empty_warehouse(warehouse_path, tmp_path):
    with open_warehouse(warehouse_path, migrate=True) as con:
        stats = export_parquet(con, tmp_path / "out")
    assert (stats.articles, stats.quotes, stats.stories) == (0, 0, 0)
    assert (tmp_path / "out" / "articles").is_dir()


def test_export_into_a_file_path_is_a_clear_error(con, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ExportError):
        export_parquet(con, blocker)


def test_warehouse_stats(con):
    stats = warehouse_stats(con, today=date(2024, 10, 29))
    assert set(stats) == set(STATS_COLUMNS)
    assert all(len(row) == len(STATS_COLUMNS[name]) for name, rows in stats.items() for row in rows)
    feeds = {row[0]: row for row in stats["feeds"]}
    assert feeds["https://a.example/rss"][1:5] == ("A", 4, 4, 0)
    assert feeds["https://b.example/rss"][1:5] == (None, 2, 1, 1)
    assert stats["languages"][0][:2] == ("de", 2)
    assert ("und", 1, 20.0) in stats["languages"]
    days = stats["days"]
    assert len(days) == 14 and days[0][0] == date(2024, 10, 29) and days[-1][0] == date(2024, 10, 16)
    assert dict((d, n) for d, n, _ in days)[date(2024, 10, 28)] == 5
    assert dict((d, n) for d, n, _ in days)[date(2024, 10, 20)] == 1
    assert sum(n for _, n, _ in days) == 6
    assert stats["raw"] == [(0, 0, None)]  # no raw HTML stored: no bytes per page to tell


def test_export_reads_back_with_pandas_and_polars(con, tmp_path):
    import pandas as pd
    import polars as pl

    out = tmp_path / "export"
    export_parquet(con, out)
    frame = pd.read_parquet(out / "articles")
    assert len(frame) == 6
    assert str(frame["published_at"].dtype) == "datetime64[us, UTC]"
    assert set(frame["language"].astype(str)) >= {"de", "en"}
    lazy = pl.scan_parquet(str(out / "articles" / "**" / "*.parquet"), hive_partitioning=True).collect()
    assert lazy.height == 6
    assert lazy.schema["published_at"] == pl.Datetime("us", "UTC")
    assert lazy.schema["authors"] == pl.List(pl.String)


def test_warehouse_stats_counts_page_types_and_low_confidence(warehouse_path):
    from dataclasses import replace

    rows = [
        replace(art(1), page_type="article", extraction_confidence=0.9),
        replace(art(2), page_type="article", extraction_confidence=0.2),
        replace(art(3, status="listing"), page_type="listing", extraction_confidence=0.0),
        art(4),  # stored before 011: no type yet
    ]
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, rows, "run-1")
        stats = warehouse_stats(con, today=date(2024, 10, 29))
    assert stats["page_types"] == [("article", 2, 2, 1), ("listing", 1, 0, 0), ("unknown", 1, 1, 0)]
    assert list(stats)[-1] == "files"  # still last: scripts read the orphans from the last line
