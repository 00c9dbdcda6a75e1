"""bench-soak's newsroom (it keeps publishing, feeds list the newest, some stories are wire copies) and verdict."""

from __future__ import annotations

import re

import httpx

from bench.soak import FEEDS, PER_FEED, WINDOW, Newsroom, RunRow, serve, trend


def test_each_run_publishes_new_articles_and_feeds_list_only_the_newest():
    newsroom = Newsroom()
    for _ in range(12):
        assert newsroom.publish() == FEEDS * PER_FEED
    assert newsroom.published == 12 * FEEDS * PER_FEED
    with serve(newsroom) as base:
        feed = httpx.get(f"{base}/feed/0.xml").text
        links = re.findall(r"<link>([^<]+/a/0/\d+\.html)</link>", feed)
        assert len(links) == WINDOW
        assert links[0].endswith(f"/a/0/{12 * PER_FEED - 1}.html")  # newest first
        page = httpx.get(links[0])
        assert page.status_code == 200 and "<article><h1>" in page.text
        assert httpx.get(f"{base}/a/0/{12 * PER_FEED}.html").status_code == 404  # not published yet
        assert httpx.get(f"{base}/feed/{FEEDS}.xml").status_code == 404


def test_some_new_articles_are_wire_copies_of_another_desks_story():
    newsroom = Newsroom()
    for _ in range(40):
        newsroom.publish()
    texts = [page.text for page in newsroom.pages.values()]
    copies = [t for t in texts if "(dpa) - " in t]
    assert 0.02 * len(texts) < len(copies) < 0.15 * len(texts)
    titles = [page.title for page in newsroom.pages.values()]
    assert len(set(titles)) < len(titles)  # a copy keeps its original's headline
    assert len(set(texts)) == len(texts)  # but no two texts are the same


def _row(run: int, wall: float, cpu: float) -> RunRow:
    return RunRow(run, run * 18, wall, cpu, 1.0, run * 18, run * 18, 0.3, 1.0, 0.1, 10, 10)


def test_the_trend_compares_the_last_runs_with_the_first_leaving_out_the_first_run():
    flat = [_row(1, 50.0, 50.0)] + [_row(n, 4.0, 3.0) for n in range(2, 202)]
    assert trend(flat).endswith("no upward trend (wall and flow CPU within 15 %)")
    growing = [_row(1, 4.0, 3.0)] + [_row(n, 4.0 + n / 20, 3.0) for n in range(2, 202)]
    text = trend(growing)
    assert text.endswith("UPWARD TREND (over 15 %)")
    assert "| wall s | 5.32 | 12.82 | 2.41 |" in text
