import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from trafilatura.utils import load_html

from core.records import FeedEntry, Page
from tasks.extract import (
    extract_article,
    page_metadata,
)

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"
NOW = datetime(2024, 10, 28, 15, 0, tzinfo=UTC)
ENTRY = FeedEntry(
    feed_url="https://weser.example/rss",
    url="https://weser.example/nato.html",
    link="https://weser.example/nato.html?utm_source=rss",
    guid="g1",
    title="Feed title",
    summary="Feed summary of the story.",
    authors=("Feed Author",),
    published_at=datetime(2024, 10, 28, 13, 0, tzinfo=UTC),
)


def page(body, **kw):
    return Page(
        entry=ENTRY,
        fetched_at=NOW,
        final_url=ENTRY.url,
        http_status=200,
        content_type="text/html",
        body=body,
        **kw,
    )


def test_wire_story_extraction_keeps_paragraphs_subheadings_and_metadata():
    article = extract_article(page((PAGES / "wire_de.html").read_bytes(), charset="utf-8"))
    assert article.extraction_status == "ok"
    assert article.text.startswith("Brüssel (dpa) - Die Verteidigungsminister")
    assert "\nStreit um die Finanzierung\n" in article.text
    assert "Das nächste Treffen" in article.text
    for boilerplate in ("Cookies", "Newsletter", "Impressum", "Mehr zum Thema"):
        assert boilerplate not in article.text
    assert article.title.startswith("Nato-Treffen: Minister ringen um Munition")
    assert article.published_at == datetime(2024, 10, 28, 14, 5, tzinfo=timezone(timedelta(hours=1)))
    assert article.modified_at == datetime(2024, 10, 28, 16, 20, tzinfo=timezone(timedelta(hours=1)))
    assert article.declared_language == "de"
    assert article.authors == ("Lena Vogt",)
    assert article.raw_html is not None


@pytest.mark.parametrize(
    ("kw", "status"),
    [
        ({"body": None, "error": "timed out", "error_reason": "timeout"}, "fetch_failed"),
        ({"body": b"nope", "http_status": 404}, "http_error"),
        ({"body": b"%PDF-1.4", "content_type": "application/pdf"}, "not_html"),
        ({"body": b"<html><body><p>Video: ein Hafen im Nebel.</p></body></html>"}, "no_text"),
        (
            {
                "body": b"<html><body><h1>Anmelden</h1><form><input name=u><input TYPE=Password name=p></form></body></html>"
            },
            "login_page",
        ),
        ({"body": b"\x00\x01\x02\xff garbage"}, "no_text"),
    ],
)
def test_failures_fall_back_to_the_feed_entry(kw, status):
    base = {
        "entry": ENTRY,
        "fetched_at": NOW,
        "final_url": ENTRY.url,
        "http_status": 200,
        "content_type": "text/html",
    }
    article = extract_article(Page(**{**base, **kw}))
    assert article.extraction_status == status
    assert article.title == "Feed title"
    assert article.url == ENTRY.url
    assert article.published_at == ENTRY.published_at
    assert article.authors == ("Feed Author",)
    assert article.text  # the feed's summary (or the little text there was)
    assert article.extraction_error


def test_page_metadata_reads_jsonld_graph_and_html_lang():
    tree = load_html((PAGES / "wire_de.html").read_text(encoding="utf-8"))
    stated = page_metadata(tree)
    assert stated["published_at"].isoformat() == "2024-10-28T14:05:00+01:00"
    assert stated["declared_language"] == "de"


STORY = " ".join(f"Satz {i} über den Hafen, die Fähren und das Wetter an der Küste." for i in range(12))


def article_page(head: str, body: str) -> bytes:
    return f"<html lang='de'><head>{head}</head><body>{body}</body></html>".encode()


def test_page_metadata_beats_the_feed_and_titles_lose_the_site_name():
    head = """<meta property="og:site_name" content="Weserbote">
    <title>Fähre fällt aus | Weserbote</title>
    <script type="application/ld+json">{"@type": "NewsArticle", "headline": "Fähre fällt aus | Weserbote",
      "datePublished": "2024-10-28T11:00:00+01:00", "author": "Jan Ree und Ida Holm/dpa",
      "isAccessibleForFree": false}</script>"""
    body = f"<article><h1>Fähre fällt aus</h1><p>{STORY}</p><div class='newsletter-box'>Jetzt Newsletter abonnieren und nichts verpassen, jeden Morgen neu.</div></article>"
    article = extract_article(page(article_page(head, body)))
    assert article.extraction_status == "ok"
    assert article.title == "Fähre fällt aus"
    assert article.authors == ("Jan Ree", "Ida Holm")
    assert article.agencies == ("dpa",)
    assert article.published_at == datetime(2024, 10, 28, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    assert article.paywalled is True
    assert "Newsletter" not in article.text
    assert article.text.startswith("Satz 0")


def test_dates_after_the_fetch_are_not_believed_and_the_feed_stands_in():
    head = '<meta property="article:published_time" content="2024-10-29T08:00:00+01:00">'
    article = extract_article(page(article_page(head, f"<article><p>{STORY}</p></article>")))
    assert article.published_at == ENTRY.published_at  # the page claimed a time after NOW


def test_lines_missing_from_a_complete_articlebody_are_dropped_but_subheadings_stay():
    topics = ("die Liegeplätze", "das Nachtfahrverbot", "die Gebühren für Fähren", "den Lärmschutz am Kai")
    paragraphs = [
        f"Absatz {i}: Der Rat beschloss am Abend neue Regeln für {t}, nach langer Debatte."
        for i, t in enumerate(topics)
    ]
    body_ld = " ".join(paragraphs)
    head = (
        f'<script type="application/ld+json">{{"@type": "NewsArticle", "articleBody": "{body_ld}"}}</script>'
    )
    html = (
        "<article>"
        + "".join(f"<p>{p}</p>" for p in paragraphs[:2])
        + "<h2>Wie es weitergeht</h2>"
        + "<p>Bildunterschrift: Möwen sitzen auf der Kaimauer, im Hintergrund ein Kran.</p>"
        + "".join(f"<p>{p}</p>" for p in paragraphs[2:])
        + "</article>"
    )
    article = extract_article(page(article_page(head, html)))
    assert "Wie es weitergeht" in article.text
    assert "Möwen" not in article.text
    assert article.text.count("Absatz") == 4


def test_fact_boxes_photo_credits_and_link_lists_are_pruned_but_layout_classes_are_not():
    body = (
        "<article><div class='hasCaption'><h1>Fähre fällt aus</h1>"
        "<p>Vorspann: Der Hafen bleibt zu, die Pendler müssen ab Montag den langen Umweg über die Brücke nehmen.</p></div>"
        f"<p>{STORY}</p>"
        "<div role='complementary'><p>Fakten: Die Fähre fährt seit 1962 zweimal am Tag über die Weser und trägt "
        "bis zu vierzig Autos.</p></div>"
        "<div class='image-credit'><p>Foto: Möwen sitzen am Morgen auf der alten Kaimauer am Fähranleger, im "
        "Hintergrund dreht sich ein Kran.</p></div>"
        "<ul><li><a href='/a'>Schleuse wird saniert: Was Pendler jetzt wissen müssen</a></li>"
        "<li><a href='/b'>Neue Brücke über die Hunte: der Zeitplan für den Bau</a></li></ul>"
        f"<p>{STORY}</p></article>"
    )
    article = extract_article(page(article_page("", body)))
    assert article.extraction_status == "ok"
    assert "Vorspann" in article.text  # "hasCaption" is a layout class, not a caption
    for furniture in ("Fakten", "Möwen", "Schleuse", "Hunte"):
        assert furniture not in article.text


def test_where_the_steps_lose_the_article_trafilaturas_own_answer_is_taken():
    # The story sits in two boxes whose class says "related": each holds half the running text, so the
    # pruning takes both, and what is left ("scroll to top" furniture) is not in trafilatura's answer.
    halves = "".join(f"<div class='related-block'><p>{STORY}</p><p>{STORY}</p></div>" for _ in range(2))
    strip = (
        "<div class='strip'><p>Jetzt lesen: Hafen aktuell. Nach oben scrollen. Alle Ressorts, alle Themen, "
        "alle Orte an der Küste auf einen Blick, jeden Tag neu für Sie zusammengestellt.</p></div>"
    )
    article = extract_article(page(article_page("", f"<article>{halves}</article>{strip}")))
    assert article.extraction_status == "ok"
    assert "Satz 11 über den Hafen" in article.text
    assert "scrollen" not in article.text


def test_an_article_shipped_as_html_in_a_script_is_extracted():
    paragraphs = "".join(f"<p>{sentence}.</p>" for sentence in STORY.split(". "))
    hydration = json.dumps({"detail": {"title": "Fähre fällt aus", "contentHtml": paragraphs}})
    html = f"<html><head><title>Fähre</title></head><body><div id='app'></div><script>window.__DATA__ = {hydration};</script></body></html>"
    article = extract_article(page(html.encode()))
    assert article.extraction_status == "ok"
    assert "Satz 0 über den Hafen" in article.text
    assert "Satz 11 über den Hafen" in article.text
    assert "contentHtml" not in article.text


def _author_test_pages() -> list[str]:
    """Our own fixture pages, and the corpus pages where ../shared is present."""
    import gzip

    from tests.conftest import CORPORA

    newsroom = Path(__file__).resolve().parents[2] / "wirehouse" / "sample_newsroom"
    files = [*sorted(PAGES.glob("*.html")), *sorted(newsroom.rglob("*.html"))]
    sources = [path.read_text(encoding="utf-8") for path in files]
    corpus = CORPORA / "fundus"
    if (corpus / "truth.jsonl").is_file():
        for line in (corpus / "truth.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            sources.append(gzip.decompress((corpus / row["file"]).read_bytes()).decode("utf-8", "replace"))
    return sources


def test_the_author_only_guess_is_what_trafilaturas_whole_metadata_guess_reports():
    from trafilatura.metadata import extract_metadata

    from tasks.extract import guess_author

    sources = _author_test_pages()
    assert sources
    with_author = 0
    for source in sources:
        expected = extract_metadata(load_html(source)).author
        assert guess_author(load_html(source)) == expected
        with_author += expected is not None
    assert with_author > 0  # the comparison covered pages where trafilatura finds an author
