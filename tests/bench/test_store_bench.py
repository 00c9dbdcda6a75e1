from dataclasses import replace
from datetime import UTC, datetime

from bench.store import copies, label, report, shuffled_text
from core.records import Article
from tasks import wirecopy

TEXT = " ".join(f"wort{i}" for i in range(80)) + "\n" + " ".join(f"satz{i}" for i in range(60))
NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


def test_statements_are_labelled_by_what_they_do():
    assert label("MERGE INTO article_store USING batch b ON x") == "sql: write articles"
    assert label("INSERT INTO article_store BY NAME (SELECT * FROM batch)") == "sql: write articles"
    assert (
        label("\nSELECT b.url FROM batch b\nLEFT JOIN article_store a ON a.url = b.url")
        == "sql: writable check"
    )
    assert label("COMMIT") == "sql: commit"
    assert label("SELECT 42 FROM somewhere else") == "sql: SELECT 42 FROM somewhere"


def test_a_shuffled_text_keeps_its_words_but_not_its_fingerprint():
    assert shuffled_text(TEXT, 0) == TEXT
    other = shuffled_text(TEXT, 3)
    assert other is not None and other != TEXT
    assert sorted(other.split()) == sorted(TEXT.split()) and other.count("\n") == 1
    assert wirecopy.similarity(wirecopy.fingerprint(TEXT), wirecopy.fingerprint(other)) < 0.5


def test_copies_have_their_own_urls_and_come_in_wire_copy_pairs():
    base = [
        Article(
            url=f"https://news.example/{n}",
            feed_url="https://news.example/rss",
            link=f"https://news.example/{n}",
            guid=None,
            title=f"T{n}",
            text=TEXT.replace("wort1 ", f"wort1 n{n} "),
            fetched_at=NOW,
            published_at=NOW,
            extraction_status="ok",
        )
        for n in range(3)
    ]
    base = [replace(a, fingerprint=wirecopy.fingerprint(a.text)) for a in base]
    made = copies(base, 0, 12)
    assert len({a.url for a in made}) == 12
    # copies 0 and 1 of a page share text and time (one story), copies 2 and 3 another text, later
    assert made[0].text == made[3].text == base[0].text and made[0].published_at == made[3].published_at
    assert made[6].text == made[9].text != made[0].text and made[6].published_at > made[0].published_at
    assert made[6].fingerprint == wirecopy.fingerprint(made[6].text)
    assert copies(base, 6, 3) == made[6:9]


def result(wall, commit, docs=10, hashes="h"):
    return {
        "batches": [{"batch wall": wall, "batch cpu": wall / 2, "sql: commit": commit}] * 4,
        "closing": 0.1,
        "total": wall * 4,
        "index_docs": docs,
        "ok_articles": 10,
        "index_segments": 3,
        "files": 9,
        "reads": {"count articles": 0.01},
        "hashes": {"article_store": hashes},
    }


def test_the_report_compares_steps_and_checks_both_sides():
    text = report({"this tree": [result(0.5, 0.1)], "ref main": [result(1.0, 0.2)]})
    assert "| sql: commit | 0.1000 | 0.1000 | 0.2000 | 0.2000 |" in text
    assert "| batch wall | 0.5000 | 0.5000 | 1.0000 | 1.0000 |" in text
    assert "every stored article is in the index" in text
    assert "identical on every side and round" in text
    bad = report({"this tree": [result(0.5, 0.1, docs=9)], "ref main": [result(1.0, 0.2, hashes="other")]})
    assert "STALE in this tree round 1" in bad
    assert "DIFFER" in bad
