"""SIGKILL at random moments of real `wirehouse ingest` processes: the warehouse ends as after a clean run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

from tasks.feeds import parse_feed
from tests.support.chaos import STORY_GROUPS, rows, unfindable
from warehouse.connection import connect, lake_of

CONTENT = (
    "select url, feed_url, title, text, language, extraction_status, word_count from articles order by url"
)


def start_ingest(opml, path, tmp_path):
    env = {
        **os.environ,
        "WIREHOUSE_ALLOW_PRIVATE_HOSTS": "127.0.0.1",
        "WIREHOUSE_HOST_DELAY": "0.05",  # stretch the run so kills land in every phase
        "WIREHOUSE_HOST_CONCURRENCY": "1",
    }
    env.pop("PREFECT_API_URL", None)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wirehouse.cli",
            "ingest",
            "--feeds",
            opml,
            "--warehouse",
            str(path),
            "--batch-size",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        env=env,
        start_new_session=True,  # its own process group: the kill takes Prefect's temporary server too
    )


def snapshot(path):
    con = connect(path, read_only=True)
    try:
        content = con.execute(CONTENT).fetchall()
        unaccounted = con.execute(
            """select f.feed_url, f.run_id, f.new_entries, count(a.url)
               from feed_fetches f left join articles a on a.run_id = f.run_id and a.feed_url = f.feed_url
               group by all having count(a.url) <> f.new_entries"""
        ).fetchall()
    finally:
        con.close()
    return content, unaccounted


def listing_feeds(newsroom):
    """Every article URL the newsroom's feeds list, with the feeds that list it."""
    import httpx

    listed: dict[str, set[str]] = {}
    for name in ("inland.rss", "world.atom", "culture.rdf"):
        url = f"{newsroom.base}/feeds/{name}"
        for entry in parse_feed(httpx.get(url).content, url).entries:
            listed.setdefault(entry.url, set()).add(url)
    return listed


def attributed(content, listed):
    """The rows with the feed of a URL that several feeds list checked, then set to all of them.

    Feeds and batches overlap, so such an article belongs to whichever of its feeds answered first
    in the run that stored it: which one may differ between runs, that it is one of them may not.
    """
    rows = []
    for url, feed_url, *rest in content:
        feeds = listed.get(url, {feed_url})
        assert feed_url in feeds, (url, feed_url)
        rows.append((url, feed_url if len(feeds) == 1 else " ".join(sorted(feeds)), *rest))
    return rows


def test_sigkill_at_random_moments_loses_nothing_and_duplicates_nothing(newsroom, tmp_path):
    clean = tmp_path / "clean.sqlite"
    proc = start_ingest(newsroom.opml, clean, tmp_path)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    expected, _ = snapshot(clean)

    killed = tmp_path / "killed.sqlite"
    rng = random.Random(20261125)
    kills = runs = 0
    # Ten runs, more while fewer than five were killed mid-way: once the lake holds the newsroom a
    # run is short, and on an idle machine more of them end before their moment comes.
    while runs < 10 or (kills < 5 and runs < 25):
        runs += 1
        proc = start_ingest(newsroom.opml, killed, tmp_path)
        time.sleep(rng.uniform(0.5, 14.0))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
    proc = start_ingest(newsroom.opml, killed, tmp_path)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    content, unaccounted = snapshot(killed)
    print(f"{kills} of {runs} runs killed mid-way")
    assert kills >= 5
    listed = listing_feeds(newsroom)
    assert any(len(feeds) > 1 for feeds in listed.values())  # the case attributed() is there for
    # same rows, same values, no duplicates (url is the key)
    assert attributed(content, listed) == attributed(expected, listed)
    assert unaccounted == []  # no feed fetch claims articles that were not stored
    assert rows(killed, STORY_GROUPS) == rows(clean, STORY_GROUPS)
    # Search is not stale, with no maintenance run in between: the clean run caught the index up with
    # what the killed runs stored (their held writers never committed), and each article is found by
    # its own title.
    assert_all_findable(killed)


def assert_all_findable(path):
    """Every extracted article is in the search index, and a search for its title finds it."""
    assert unfindable(path, lake_of(path).search_dir) == []
