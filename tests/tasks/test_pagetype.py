"""What a page is: pages written for these tests, each a kind of page that is no plain article."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.records import FeedEntry, Page
from tasks.extract import extract_article

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"
SUMMARY = "The feed's summary."


def extract(name, url):
    entry = FeedEntry(feed_url="https://feeds.example/rss", url=url, link=url, summary=SUMMARY)
    page = Page(
        entry=entry,
        fetched_at=datetime(2024, 10, 29, tzinfo=UTC),
        final_url=url,
        http_status=200,
        content_type="text/html",
        body=(PAGES / name).read_bytes(),
        charset="utf-8",
    )
    return extract_article(page)


@pytest.mark.parametrize(
    ("name", "url", "page_type", "status", "wall_words"),
    [
        ("consent_wall.html", "https://marsch.example/2024/deich-1.html", "wall", "consent_wall", "Cookies"),
        ("paywall.html", "https://tide.example/news/quay-2024.html", "wall", "paywall", "subscri"),
        ("section.html", "https://marsch.example/wirtschaft/", "listing", "listing", "Werft"),
    ],
)
def test_a_wall_or_a_listing_is_never_stored_as_the_articles_text(name, url, page_type, status, wall_words):
    article = extract(name, url)
    assert (article.page_type, article.extraction_status) == (page_type, status)
    assert article.text == SUMMARY  # the feed's summary stands in
    assert wall_words not in (article.text or "")
    assert article.extraction_error  # the row says why
    assert article.extraction_confidence == 0.0


def test_a_paywall_is_paywalled_and_keeps_what_the_page_states():
    article = extract("paywall.html", "https://tide.example/news/quay-2024.html")
    assert article.paywalled is True
    assert article.title == "Harbour board approves new quay"


def test_a_live_blog_keeps_its_updates_as_its_text():
    article = extract("liveblog.html", "https://tide.example/news/storm-2024.html")
    assert (article.page_type, article.extraction_status) == ("liveblog", "ok")
    assert "The ferry to the islands has been cancelled" in (article.text or "")


def test_an_article_is_an_article():
    article = extract("wire_de.html", "https://weser.example/nato.html")
    assert (article.page_type, article.extraction_status) == ("article", "ok")
    assert article.extraction_confidence is not None and article.extraction_confidence >= 0.8


def test_a_login_box_in_the_sidebar_or_menu_is_no_login_wall():
    post = (
        "<p>Der Kutter „Anna“ ist nach vierzig Jahren im Dienst an ein Museum übergeben worden. Die Crew"
        " verabschiedete sich am Sonntag mit einer letzten Fahrt um die Insel, begleitet von zwölf Booten.</p>"
    )
    box = '<form class="loginform"><input name="u"><input type="password" name="p"></form>'
    for chrome in (f'<aside class="sidebar">{box}</aside>', f'<div class="mobile-menu">{box}</div>'):
        body = f"<html><body><article><h1>Kutter geht ins Museum</h1>{post}</article>{chrome}</body></html>"
        entry = FeedEntry(feed_url="https://f.example/rss", url="https://f.example/a.html", link="x")
        page = Page(
            entry=entry,
            fetched_at=datetime(2024, 10, 29, tzinfo=UTC),
            http_status=200,
            content_type="text/html",
            body=body.encode(),
            charset="utf-8",
        )
        article = extract_article(page)
        assert article.extraction_status == "ok", chrome
        assert "vierzig Jahren" in (article.text or "")
