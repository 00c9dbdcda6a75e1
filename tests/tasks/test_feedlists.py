"""Feed lists: OPML, TOML and URL lists read in; OPML and TOML written and read back."""

from pathlib import Path

from tasks.feedlists import write_feed_toml, write_opml
from tasks.feeds import parse_feed_list, parse_feed_toml, parse_opml
from tasks.records import FeedSource

WORLD = Path(__file__).resolve().parent.parent.parent / "feeds" / "world.opml"

AWKWARD = [
    FeedSource("https://a.example/rss?x=1&y=2", title='Tom & "Jerry" <Daily>', category="Welt/Europa"),
    FeedSource(
        "https://b.example/atom", title="Zeile\teins\\zwei", category="Welt", html_url="https://b.example/"
    ),
    FeedSource("https://c.example/feed", category="Welt/Europa/Süd"),
    FeedSource("https://d.example/news.xml", title="Nachrichten", category="d.example", kind="news-sitemap"),
    FeedSource("https://e.example/sitemap.xml", kind="sitemap"),
    FeedSource("https://f.example/feed.json", title="\x07bell", kind="json"),
]


def key(feeds):
    return sorted((f.url, f.title, f.html_url, f.category) for f in feeds)


def test_world_opml_round_trips_through_opml():
    feeds = parse_opml(WORLD.read_bytes())
    assert len(feeds) >= 20 and any(f.category for f in feeds)
    again = parse_opml(write_opml(feeds))
    assert again == feeds  # same feeds, same order, same categories


def test_world_opml_round_trips_through_toml():
    feeds = parse_opml(WORLD.read_bytes())
    assert parse_feed_toml(write_feed_toml(feeds)) == feeds


def test_awkward_titles_categories_and_sitemap_kinds_survive():
    for data in (write_opml(AWKWARD), write_feed_toml(AWKWARD).encode()):
        again = parse_feed_list(data)
        expected = [
            f if f.title != "\x07bell" else FeedSource(f.url, title="bell", kind="json") for f in AWKWARD
        ]
        if data.startswith(b"#"):  # TOML can carry the control character itself (escaped)
            expected = AWKWARD
        # Kinds of feeds are found out on fetch; only sitemap kinds travel in a list.
        assert key(again) == key(expected)
        assert {f.url: f.kind for f in again if f.kind} == {
            "https://d.example/news.xml": "news-sitemap",
            "https://e.example/sitemap.xml": "sitemap",
        }


def test_opml_is_what_feed_readers_expect():
    data = write_opml(AWKWARD[:1])
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert b'type="rss"' in data and b'xmlUrl="https://a.example/rss?x=1&amp;y=2"' in data
    assert b"<dateCreated>" in data
