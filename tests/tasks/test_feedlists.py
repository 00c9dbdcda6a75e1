"""Feed lists: OPML, TOML and URL lists read in; OPML and TOML written and read back."""

from pathlib import Path

import pytest

from core.records import FeedSource
from tasks.feedlists import FeedListError, sniff_feed_list, write_feed_toml, write_opml
from tasks.feeds import parse_feed_list, parse_feed_toml, parse_opml

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


# --------------------------------------------------------------------------- reading by content

RSS = b"""<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
<title>Rheinblick</title><link>https://rhein.example/</link>
<atom:link rel="self" type="application/rss+xml" href="https://rhein.example/rss"/>
<item><title>Eins</title><link>https://rhein.example/1</link></item></channel></rss>"""
ATOM = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>Harbour</title>
<link rel="alternate" href="https://harbour.example/"/><link rel="self" href="https://harbour.example/atom.xml"/>
</feed>"""
RDF = b"""<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="https://kultur.example/index.rdf"><title>Kultur</title><link>https://kultur.example/</link>
</channel></rdf:RDF>"""
JSON_FEED = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "Solo",
"home_page_url": "https://solo.example/", "feed_url": "https://solo.example/feed.json", "items": []}"""


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\xef\xbb\xbf  <?xml version='1.0'?><opml/>", "xml"),
        (RSS, "xml"),
        (JSON_FEED, "json"),
        (b'# mine\n\n[[feed]]\nurl = "https://a.example/rss"\n', "toml"),
        (b'feeds = ["https://a.example/rss"]', "toml"),
        (b"this is = not toml [", "toml"),
        (b"# mine\nhttps://a.example/rss?x=1&y=2\n", "urls"),
        (b"www.example.org/rss\n", "urls"),
        (b"https://a.example/rss my favourite\n", "urls"),
    ],
)
def test_a_feed_list_is_sniffed_by_its_content(data, kind):
    assert sniff_feed_list(data) == kind


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("www.example.org/rss", "expected one http:// or https:// URL per line"),
        ("https://c.example/rss my favourite", "expected one URL per line; # starts a comment"),
        ('title = "not here"', "expected one URL per line; # starts a comment"),
    ],
)
def test_a_bad_line_of_a_url_list_is_named_with_its_number_not_taken_for_toml(bad, expected):
    data = f"# my feeds\nhttps://a.example/rss\n{bad}\nhttps://b.example/rss\n".encode()
    with pytest.raises(FeedListError) as caught:
        parse_feed_list(data, "feeds.txt")
    assert str(caught.value) == f"feeds.txt line 3: not a URL: {bad!r} ({expected})"


def test_a_url_list_takes_comments_after_a_url_and_keeps_fragments():
    data = b"https://a.example/rss  # tagesschau\nhttps://b.example/feed#main\n"
    assert [f.url for f in parse_feed_list(data)] == ["https://a.example/rss", "https://b.example/feed#main"]


def test_a_toml_error_names_the_line():
    data = b'[[feed]]\nurl = "https://a.example/rss"\ntitle "no equals sign"\n'
    with pytest.raises(FeedListError) as caught:
        parse_feed_list(data, "feeds.toml")
    assert str(caught.value) == (
        "feeds.toml line 3: not valid TOML: Expected '=' after a key in a key/value pair"
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (RSS, FeedSource("https://rhein.example/rss", "Rheinblick", "https://rhein.example/")),
        (ATOM, FeedSource("https://harbour.example/atom.xml", "Harbour", "https://harbour.example/")),
        (RDF, FeedSource("https://kultur.example/index.rdf", "Kultur", "https://kultur.example/")),
        (JSON_FEED, FeedSource("https://solo.example/feed.json", "Solo", "https://solo.example/")),
    ],
)
def test_a_single_feed_is_taken_as_that_feed(data, expected):
    assert parse_feed_list(data, "feed.xml") == [expected]
    # Downloaded, a feed is subscribed to by the URL it came from.
    got = parse_feed_list(data, "https://mirror.example/f", url="https://mirror.example/f")
    assert [f.url for f in got] == ["https://mirror.example/f"]


def test_a_single_feed_file_without_its_own_url_says_to_give_the_url():
    data = b'<rss version="2.0"><channel><title>T</title><link>https://t.example/</link></channel></rss>'
    with pytest.raises(FeedListError) as caught:
        parse_feed_list(data, "feed.xml")
    assert str(caught.value) == (
        'feed.xml is a single feed (RSS) that names no URL of its own (no rel="self" link);'
        " give the feed's URL instead of the file"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html><body/></html>", r"x\.xml: not an OPML document or a feed \(root element is <html>"),
        (b'{"items": []}', r"x\.xml: JSON that is not a JSON Feed"),
        (b"{not json", r"x\.xml: not valid JSON"),
        (b'<!DOCTYPE rss [<!ENTITY a "b">]><rss><channel/></rss>', "ENTITY"),
    ],
)
def test_documents_that_are_neither_a_list_nor_a_feed_are_one_clear_error(data, message):
    with pytest.raises(FeedListError, match=message):
        parse_feed_list(data, "x.xml")
