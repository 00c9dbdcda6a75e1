from datetime import UTC, datetime

import pytest

from core.records import FeedEntry, FeedFetch, FeedResult, FeedSource
from tasks.feeds import (
    FeedListError,
    NotAFeedError,
    canonical_url,
    feed_result_from_response,
    html_to_text,
    no_feed_fetched_message,
    parse_feed,
    parse_feed_list,
    parse_opml,
    settled_fetches,
)
from tasks.http import Response

FEED = "https://news.example/feed"

OPML = b"""<?xml version="1.0" encoding="utf-8"?>
<opml version="2.0"><head><title>mine</title></head><body>
  <outline text="Nachrichten">
    <outline text="Europa">
      <outline text="Rhein" title="Rheinblick" type="rss" xmlUrl="https://rhein.example/rss" htmlUrl="https://rhein.example/"/>
    </outline>
    <outline text="Hafen" type="rss" xmlUrl="https://harbour.example/atom.xml"/>
  </outline>
  <outline text="Solo" type="rss" xmlurl="https://solo.example/feed.json"/>
  <outline text="Dupe" type="rss" xmlUrl="https://rhein.example/rss"/>
</body></opml>"""

RSS2 = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>Rheinblick</title><link>https://news.example/</link><language>de-DE</language>
<item><title>Brücke &amp; Fähre</title><link>https://news.example/a.html?utm_source=rss&amp;utm_medium=feed</link>
<guid isPermaLink="false">id-1</guid><pubDate>Mon, 28 Oct 2024 14:05:00 +0100</pubDate>
<description>&lt;p&gt;Der &lt;b&gt;Rat&lt;/b&gt; tagt.&lt;/p&gt;</description><dc:creator>Anna Berger</dc:creator></item>
<item><title>Same again</title><link>https://news.example/a.html#comments</link></item>
<item><title>No link at all</title><description>x</description></item>
<item><title>Relative</title><link>/b.html</link><guid>https://news.example/b.html</guid></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Harbour Post</title><id>urn:x</id><updated>2024-10-28T10:00:00Z</updated>
<entry><title type="html">Tide &lt;em&gt;rises&lt;/em&gt;</title><id>urn:harbour:1</id>
<link rel="alternate" href="https://harbour.example/tide"/><published>2024-10-28T09:30:00-04:00</published>
<author><name>Tom Riley</name></author><author><name>Ann Lee</name></author><summary>Water.</summary></entry>
</feed>"""

RDF = """<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://culture.example/"><title>Culture</title><link>https://culture.example/</link><description>c</description>
<items><rdf:Seq><rdf:li rdf:resource="https://culture.example/opera"/></rdf:Seq></items></channel>
<item rdf:about="https://culture.example/opera"><title>Opéra</title><link>https://culture.example/opera</link>
<dc:date>2024-10-27T20:00:00+01:00</dc:date><dc:language>fr</dc:language></item>
</rdf:RDF>"""

JSON_FEED = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "Solo", "language": "es",
"items": [{"id": "1", "url": "https://solo.example/uno", "title": "Uno", "content_text": "Texto.",
"date_published": "2024-10-28T08:00:00+02:00", "authors": [{"name": "Lu\\u00eds"}]},
{"id": "2", "title": "no url"}]}"""


def test_opml_nested_outlines_become_categories_and_duplicates_drop():
    feeds = parse_opml(OPML)
    assert [f.url for f in feeds] == [
        "https://rhein.example/rss",
        "https://harbour.example/atom.xml",
        "https://solo.example/feed.json",
    ]
    assert feeds[0] == FeedSource(
        "https://rhein.example/rss", "Rheinblick", "https://rhein.example/", "Nachrichten/Europa"
    )
    assert feeds[1].category == "Nachrichten"
    assert feeds[2].category is None


def test_toml_and_url_list_feed_lists():
    toml = b'[[feed]]\nurl = "https://a.example/rss"\ntitle = "A"\ncategory = "World"\n\n[[feed]]\nurl = "https://b.example/atom"\n'
    assert [(f.url, f.title, f.category) for f in parse_feed_list(toml)] == [
        ("https://a.example/rss", "A", "World"),
        ("https://b.example/atom", None, None),
    ]
    assert [f.url for f in parse_feed_list(b'feeds = ["https://c.example/rss"]')] == ["https://c.example/rss"]
    assert [f.url for f in parse_feed_list(b"# mine\nhttps://d.example/rss\n\nhttps://e.example/rss\n")] == [
        "https://d.example/rss",
        "https://e.example/rss",
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<opml><body><outline", "not well-formed"),
        (b"<html><body></body></html>", "not an OPML"),
        (b'<opml version="2.0"><body></body></opml>', "lists no feeds"),
        (b"this is = not toml [", "not valid TOML"),
        (b'[[feed]]\nurl = "file:///etc/passwd"\n', "not http"),
        (b'<opml><body><outline xmlUrl="javascript:alert(1)"/></body></opml>', "not http"),
    ],
)
def test_bad_feed_lists_raise_one_clear_error(data, message):
    with pytest.raises(FeedListError, match=message):
        parse_feed_list(data)


@pytest.mark.parametrize(
    ("bad", "number"),
    [("javascript:alert(1)", 3), ("file:///etc/passwd", 4), ("ftp://files.example/feed.xml", 3)],
)
def test_a_url_list_line_that_is_not_http_is_named_with_its_line_and_reason(bad, number):
    lines = ["# my feeds", "https://a.example/rss", "", "https://b.example/rss"]
    lines.insert(number - 1, bad)
    with pytest.raises(FeedListError) as caught:
        parse_feed_list("\n".join(lines).encode(), "feeds.txt")
    assert str(caught.value) == (
        f"feeds.txt line {number}: {bad!r} is not an http(s) URL "
        "(a feed list names only http:// and https:// feeds)"
    )


def test_opml_entity_bombs_are_refused():
    laughs = b"""<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
    <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
    <opml version="2.0"><body><outline text="&c;" xmlUrl="https://a.example/rss"/></body></opml>"""
    with pytest.raises(FeedListError, match="ENTITY"):
        parse_opml(laughs)


def test_opml_external_entities_are_refused():
    xxe = b"""<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
    <opml version="2.0"><body><outline text="&xxe;" xmlUrl="https://a.example/rss"/></body></opml>"""
    with pytest.raises(FeedListError):
        parse_opml(xxe)


def test_canonical_url_strips_tracking_and_fragment():
    assert (
        canonical_url("https://News.Example/a.html?utm_source=rss&id=3&utm_medium=x#top")
        == "https://news.example/a.html?id=3"
    )
    assert canonical_url("/b.html", "https://news.example/feed") == "https://news.example/b.html"
    assert canonical_url("https://news.example") == "https://news.example/"


def test_rss2_entries():
    parsed = parse_feed(RSS2.encode(), FEED, {"content-type": "application/rss+xml; charset=utf-8"})
    assert parsed.title == "Rheinblick"
    assert parsed.language == "de"
    first, relative = parsed.entries
    assert first.url == "https://news.example/a.html"
    assert first.link.endswith("utm_medium=feed")
    assert first.guid == "id-1"
    assert first.title == "Brücke & Fähre"
    assert first.summary == "Der Rat tagt."
    assert first.authors == ("Anna Berger",)
    assert first.published_at == datetime(2024, 10, 28, 13, 5, tzinfo=UTC)
    assert first.language == "de"
    assert relative.url == "https://news.example/b.html"


def test_atom_entries_keep_all_authors_and_convert_dates():
    (entry,) = parse_feed(ATOM.encode(), FEED).entries
    assert entry.title == "Tide rises"
    assert entry.authors == ("Tom Riley", "Ann Lee")
    assert entry.published_at == datetime(2024, 10, 28, 13, 30, tzinfo=UTC)
    assert entry.guid == "urn:harbour:1"


def test_rdf_entries():
    (entry,) = parse_feed(RDF.encode(), FEED).entries
    assert entry.title == "Opéra"
    assert entry.url == "https://culture.example/opera"
    assert entry.published_at == datetime(2024, 10, 27, 19, 0, tzinfo=UTC)


def test_json_feed_entries():
    parsed = parse_feed(JSON_FEED, FEED, {"content-type": "application/feed+json"})
    (entry,) = parsed.entries
    assert (entry.title, entry.summary, entry.authors, entry.language) == ("Uno", "Texto.", ("Luís",), "es")
    assert entry.published_at == datetime(2024, 10, 28, 6, 0, tzinfo=UTC)


def test_each_feed_says_its_kind():
    assert [
        parse_feed(doc, FEED).kind for doc in (RSS2.encode(), ATOM.encode(), RDF.encode(), JSON_FEED)
    ] == [
        "rss",
        "atom",
        "rdf",
        "json",
    ]


def test_wrong_declared_charset_still_parses():
    latin1 = RSS2.replace('encoding="utf-8"', 'encoding="iso-8859-1"').encode("iso-8859-1")
    parsed = parse_feed(latin1, FEED, {"content-type": "application/rss+xml; charset=utf-8"})
    assert parsed.entries[0].title == "Brücke & Fähre"


@pytest.mark.parametrize(
    "body", [b"<html><body><p>Login</p></body></html>", b"\x89PNG\r\n\x1a\n\x00\x00", b"{not json"]
)
def test_non_feeds_raise_not_a_feed(body):
    with pytest.raises(NotAFeedError):
        parse_feed(body, FEED, {"content-type": "text/html"})


def test_feed_result_records_http_errors_and_non_feeds():
    started = datetime.now(UTC)
    feed = FeedSource(FEED)
    gone = feed_result_from_response(feed, Response(FEED, FEED, 410, {}, b""), started)
    assert (gone.fetch.http_status, gone.fetch.error_reason, gone.entries) == (410, "http_410", ())
    html = feed_result_from_response(
        feed, Response(FEED, FEED, 200, {"content-type": "text/html"}, b"<html>hi</html>"), started
    )
    assert html.fetch.error_reason == "not_a_feed"
    ok = feed_result_from_response(feed, Response(FEED, FEED, 200, {}, RSS2.encode()), started)
    assert ok.fetch.error is None and ok.fetch.entries_seen == 2


def test_html_to_text():
    assert html_to_text("<p>a <b>b</b></p>\n c &amp; d") == "a b c & d"
    assert html_to_text("") is None


def test_plain_text_titles_keep_their_angle_brackets():
    atom = """<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
    <entry><title type="text">Why std::vector&lt;int&gt; is fast</title><link href="https://a.example/1"/></entry></feed>"""
    (entry,) = parse_feed(atom.encode(), FEED).entries
    assert entry.title == "Why std::vector<int> is fast"


def test_json_feed_with_a_byte_order_mark():
    (entry,) = parse_feed(
        b"\xef\xbb\xbf" + JSON_FEED, FEED, {"content-type": "application/octet-stream"}
    ).entries
    assert entry.title == "Uno"


def test_json_feed_relative_links_are_resolved_for_fetching():
    doc = b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "1", "url": "/news/b.html", "title": "B"}]}'
    (entry,) = parse_feed(doc, FEED, {"content-type": "application/feed+json"}).entries
    assert entry.link == entry.url == "https://news.example/news/b.html"


def test_an_interrupted_run_keeps_only_fetches_whose_entries_are_all_stored():
    now = datetime(2026, 1, 1, tzinfo=UTC)

    def result(name, entries):
        url = f"https://{name}.example/feed"
        return FeedResult(
            FeedFetch(feed_url=url, started_at=now, finished_at=now, new_entries=entries),
            tuple(FeedEntry(feed_url=url, url=f"{url}/{i}", link=f"{url}/{i}") for i in range(entries)),
        )

    results = [result("a", 3), result("quiet", 0), result("b", 2), result("c", 4)]
    kept = lambda stored: [f.feed_url.split("//")[1].split(".")[0] for f in settled_fetches(results, stored)]  # noqa: E731
    assert kept(0) == ["quiet"]  # nothing stored: only a feed without new entries claims nothing
    assert kept(4) == ["a", "quiet"]  # b's first entry is stored, its second is not
    assert kept(5) == ["a", "quiet", "b"]
    assert kept(9) == ["a", "quiet", "b", "c"]


def test_no_feed_fetched_names_the_most_common_reason_and_an_example():
    now = datetime(2026, 1, 1, tzinfo=UTC)

    def failed(url, reason, error):
        return FeedFetch(feed_url=url, started_at=now, finished_at=now, error=error, error_reason=reason)

    fetches = [
        failed("https://a.example/rss", "timeout", "read timed out"),
        failed("https://b.example/rss", "http_404", "HTTP 404"),
        failed("https://c.example/rss", "timeout", "read timed out"),
    ]
    assert no_feed_fetched_message(fetches) == (
        "no feed could be fetched: 2 of 3 failed with timeout (e.g. https://a.example/rss: read timed out); "
        "also 1 http_404; see the feed_fetches view"
    )
    blocked = [failed("http://10.0.0.7/feed", "blocked_address", "10.0.0.7 resolves to non-public address")]
    assert "set WIREHOUSE_ALLOW_PRIVATE_HOSTS=10.0.0.7)" in no_feed_fetched_message(blocked)
