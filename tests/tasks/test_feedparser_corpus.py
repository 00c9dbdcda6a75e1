"""Every file of feedparser's test corpus, served over loopback HTTP, goes through our feed code path.

Issue "every broken feed survived": a feed server may send anything (ill-formed XML, lying charsets,
entity tricks, odd Content-Types). Each document must end as a FeedResult with entries, as a clean
fetch of a valid feed with nothing to ingest, or as a recorded failure (``fetch.error`` and
``error_reason`` set) -- never as an exception, never as a hang. Where the case's ``Expect:`` names
an entry title as a string literal, our entry must carry that title, normalised as we normalise it.
"""

from __future__ import annotations

import ast
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ALL_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import feedparser
import pytest

from core.records import FeedResult, FeedSource
from core.settings import Settings
from tasks.feeds import _entry_link, canonical_url, failed_feed_result, fetch_feed_result, html_to_text
from tasks.http import FetchError, HttpClient
from tests.conftest import require_corpus

pytestmark = pytest.mark.corpus

WORKERS = 8
# Tight HTTP timeouts: the server is local and serves static bytes, so anything slower is a hang.
SETTINGS = Settings(
    allow_private_hosts=frozenset({"127.0.0.1"}),
    host_delay=0,
    host_concurrency=WORKERS,
    fetch_workers=WORKERS,
    connect_timeout=5,
    read_timeout=5,
    total_timeout=10,
)
# The HTTP part is bounded by SETTINGS; parsing is not, so the whole run gets a wall-clock deadline.
RUN_DEADLINE_S = 180.0

# One string literal of an Expect expression; titles may be written as 'a' + 'b' (to dodge "--" in
# an XML comment), so a title is one or more of these joined by "+".
_LITERAL = r"""u?(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")"""
# entries[N]['title'] == ... and entries[N]['title_detail']['value'] == ... (the same value).
_TITLE_ASSERT = re.compile(
    r"""entries\[(?P<n>\d+)\]\[['"]title(?:_detail['"]\]\[['"]value)?['"]\]\s*==\s*"""
    rf"""(?P<value>{_LITERAL}(?:\s*\+\s*{_LITERAL})*)"""
)
_HEADER = re.compile(r"^Header:[ \t]*([^:\n]+):[ \t]*(.*?)[ \t]*$", re.MULTILINE)
# Every <item>/<entry> start tag (optionally namespace-prefixed): where a link can be injected.
_ENTRY_TAG = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?)(item|entry)(?=[\s>])[^>]*(?<!/)>")


@dataclass(frozen=True)
class Case:
    """One corpus file and what its header comment says."""

    path: str  # relative to the corpus, posix
    data: bytes
    headers: tuple[tuple[str, str], ...]  # the Header: lines, sent as real response headers
    expect: str
    skip_unless: str | None
    titles: tuple[tuple[int, str], ...]  # (entry index, title literal) asserted by Expect


def _comment_text(data: bytes) -> str:
    # The comment is in the document's own encoding: UTF-16/32 files (with or without BOM) too.
    for encoding in ("utf-8", "utf-32", "utf-16", "utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "Expect:" in text:
            return text
    return data.decode("latin-1")  # single-byte legacy charsets: the comment itself is ASCII


def read_case(root: Path, path: Path) -> Case:
    """Read a corpus file and the Description/Expect/Header/SkipUnless lines of its opening comment."""
    data = path.read_bytes()
    text = _comment_text(data)
    match = re.search(r"Expect:\s*(.*?)\s*-->", text, re.DOTALL)
    expect = match.group(1) if match else ""
    skip = re.search(r"^SkipUnless:\s*(.*?)\s*$", text, re.MULTILINE)
    titles = tuple(
        (int(m["n"]), "".join(ast.literal_eval(lit) for lit in re.findall(_LITERAL, m["value"])))
        for m in _TITLE_ASSERT.finditer(expect)
    )
    return Case(
        path=path.relative_to(root).as_posix(),
        data=data,
        headers=tuple(_HEADER.findall(text.split("-->", 1)[0])),
        expect=expect,
        skip_unless=skip.group(1) if skip else None,
        titles=titles,
    )


def skip_unless_holds(case: Case) -> bool:
    """Evaluate SkipUnless as feedparser's own harness does (a missing module/codec means False)."""
    if not case.skip_unless:
        return True
    try:
        return bool(eval(case.skip_unless, {"feedparser": feedparser}))
    except Exception:
        return False


def response_headers(case: Case) -> list[tuple[str, str]]:
    """The headers the server sends: the case's Header: lines, plus a Content-Type where none is given.

    The default names the format without a charset (application/xml, not text/xml, which RFC 3023
    defaults to US-ASCII), so the document's own declaration and BOM decide, as in feedparser's
    local-file runs of the same cases.
    """
    headers = list(case.headers)
    if not any(name.strip().lower() == "content-type" for name, _ in headers):
        default = "application/json" if case.path.endswith(".json") else "application/xml"
        headers.append(("Content-Type", default))
    return headers


# --------------------------------------------------------------------------- the server

# URL path -> (body, response headers).
Routes = dict[str, tuple[bytes, tuple[tuple[str, str], ...]]]


class _CorpusHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: ~2,200 requests over a few pooled connections
    server: _CorpusServer

    def do_GET(self) -> None:
        route = self.server.routes.get(unquote(urlsplit(self.path).path))
        if route is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body, headers = route
        self.send_response(200)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # 2,000 access-log lines would bury the summary


class _CorpusServer(ThreadingHTTPServer):
    daemon_threads = True
    routes: Routes


@contextmanager
def serve(routes: Routes) -> Iterator[str]:
    """Serve path -> (body, headers) on an ephemeral loopback port; yields the base URL."""
    server = _CorpusServer(("127.0.0.1", 0), _CorpusHandler)
    server.routes = routes
    thread = threading.Thread(target=server.serve_forever, name="feedparser-corpus", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- titles


def normalised_title(value: str | None, content_type: str) -> str | None:
    """What a reader should see as the title, in our normal form.

    feedparser hands titles over as HTML (``text/html``, ``application/xhtml+xml``: sanitised markup
    with entities such as ``&lt;`` still escaped) or as plain text (``text/plain``: characters,
    entities already decoded). HTML titles are read as HTML -- tags stripped, entities decoded, so
    ``<div>History of the &lt;blink&gt; tag</div>`` reads "History of the <blink> tag" and a bare
    ``<img/>`` is no title at all. Plain-text titles are taken literally: ``<blink>`` in a plain-text
    title is five characters of text, not a tag. Both then get our whitespace collapsing.
    """
    if not value:
        return None
    if "html" in content_type:
        return html_to_text(value)
    return " ".join(value.split()) or None


def reference_parse(body: bytes, headers: tuple[tuple[str, str], ...], url: str) -> feedparser.FeedParserDict:
    # The same call as tasks.feeds.parse_feed: same headers, and Content-Location pinned to the feed
    # URL (we resolve relative links against the URL we fetched), so links match our entries' links.
    lowered = {name.strip().lower(): value for name, value in headers}
    return feedparser.parse(body, response_headers={**lowered, "content-location": url})


def with_injected_links(data: bytes, base: str) -> bytes | None:
    """The document with a distinct link added to each item/entry, or None where that is not safe.

    Most title cases have entries without links, which we drop (nothing to fetch). To still check
    their titles through our code path, a copy gets ``<link>`` elements injected as the first child
    of each entry. Only done for UTF-8/ASCII documents, where a byte-level edit cannot break the
    encoding; check_title's reference parse of the copy proves the title is unchanged and the link taken.
    """
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    index = iter(range(1_000_000))

    def add_link(match: re.Match[bytes]) -> bytes:
        prefix = match.group(1)
        href = f"{base}/entry-{next(index)}".encode()
        if match.group(2) == b"entry":  # Atom: the link is an attribute
            link = b'<%slink rel="alternate" type="text/html" href="%s"/>' % (prefix, href)
        else:  # RSS 0.9x/1.0/2.0: the link is the element's text
            link = b"<%slink>%s</%slink>" % (prefix, href, prefix)
        return match.group(0) + link

    injected = _ENTRY_TAG.sub(add_link, data)
    return injected if injected != data else None


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Outcome:
    """What fetching one URL through our code path gave."""

    result: FeedResult | None = None
    crash: str | None = None  # an exception other than the FetchError contract, with its type
    seconds: float = 0.0


def fetch(client: HttpClient, url: str) -> Outcome:
    """Fetch one URL as the fetch-feed task does; a transient FetchError becomes its recorded failure."""
    started = time.monotonic()
    source = FeedSource(url)
    try:
        result = fetch_feed_result(client, source, SETTINGS)
    except FetchError as exc:
        # fetch_feed_result raises transient errors for Prefect to retry; the task records the last
        # one with failed_feed_result, so that is what a run ends with. A static local server should
        # never cause one, which the summary makes visible (reason timeout/connect/protocol/http_5xx).
        result = failed_feed_result(source, exc, datetime.now(UTC))
    except Exception as exc:
        return Outcome(crash=f"{type(exc).__name__}: {exc}", seconds=time.monotonic() - started)
    return Outcome(result=result, seconds=time.monotonic() - started)


def fetch_all(client: HttpClient, urls: list[str]) -> tuple[dict[str, Outcome], list[str]]:
    """Fetch every URL on a pool of WORKERS threads; returns outcomes and the URLs still running."""
    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="corpus-fetch")
    futures = {pool.submit(fetch, client, url): url for url in urls}
    done, pending = wait(futures, timeout=RUN_DEADLINE_S, return_when=ALL_COMPLETED)
    # A hung fetch cannot be killed; it is reported and the pool is left to the interpreter.
    pool.shutdown(wait=not pending, cancel_futures=True)
    outcomes = {futures[f]: f.result() for f in done}
    return outcomes, sorted(futures[f] for f in pending)


def check_outcome(url: str, outcome: Outcome) -> str | None:
    """Return what is wrong with an outcome, or None where it is one of the three accepted endings."""
    if outcome.crash:
        return f"raised {outcome.crash}"
    result = outcome.result
    assert result is not None
    fetch_ = result.fetch
    if fetch_.error is not None:
        if not fetch_.error_reason or result.entries:
            return f"failure without a reason or with entries: {fetch_}"
        return None
    if fetch_.error_reason is not None or fetch_.entries_seen != len(result.entries):
        return f"inconsistent fetch record: {fetch_}"
    for entry in result.entries:
        if entry.feed_url != url or not entry.url.startswith(("http://", "https://")):
            return f"entry with a bad URL: {entry}"
    return None


def outcome_kind(outcome: Outcome) -> str:
    """The summary row an outcome counts in."""
    assert outcome.result is not None
    if outcome.result.fetch.error:
        return f"recorded failure: {outcome.result.fetch.error_reason}"
    return "with entries" if outcome.result.entries else "parsed, no entry with a link to ingest"


# --------------------------------------------------------------------------- the test


@dataclass(frozen=True)
class TitleCheck:
    """One asserted title: which case, which of feedparser's entries, and where we fetch it from."""

    case: Case
    index: int
    literal: str
    url: str  # the corpus file, or its copy with injected links
    body: bytes  # what that URL serves
    headers: tuple[tuple[str, str], ...]
    via_copy: bool


class Tally:
    """Title-check results; every exclusion is counted under its reason, with example files."""

    def __init__(self) -> None:
        self.passed = 0
        self.passed_via_copy = 0
        self.excluded: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}
        self.wrong: list[str] = []

    def exclude(self, reason: str, path: str, count: int = 1) -> None:
        self.excluded[reason] += count
        self.examples.setdefault(reason, []).append(path)


def plan_title_checks(
    cases: list[Case], url_of: dict[str, str], base: str, routes: Routes, tally: Tally
) -> list[TitleCheck]:
    """Collect the Expect title assertions; serve a linked copy where feedparser's entry has no link."""
    checks: list[TitleCheck] = []
    for case in cases:
        if not case.titles:
            continue
        if not skip_unless_holds(case):
            tally.exclude("SkipUnless is false here (codec or module missing)", case.path, len(case.titles))
            continue
        headers = tuple(response_headers(case))
        reference = reference_parse(case.data, headers, url_of[case.path])
        for index, literal in case.titles:
            url, body = url_of[case.path], case.data
            if index < len(reference.entries) and not _entry_link(reference.entries[index]):
                linked_path = f"/linked/{case.path}"
                injected = with_injected_links(case.data, f"{base}{linked_path}")
                if injected is not None:
                    routes[linked_path] = (injected, headers)
                    url, body = f"{base}{quote(linked_path)}", injected
            checks.append(TitleCheck(case, index, literal, url, body, headers, body is not case.data))
    return checks


def check_title(check: TitleCheck, result: FeedResult, tally: Tally) -> None:
    """Compare our entry's title with the asserted one, found through feedparser's entry and its link."""
    path = check.case.path
    reference = reference_parse(check.body, check.headers, check.url)
    if check.index >= len(reference.entries):
        tally.exclude("feedparser 6.0.14 itself finds no such entry", path)
        return
    raw = reference.entries[check.index]
    kind = raw.get("title_detail", {}).get("type", "text/html")
    reading = kind
    if kind != "text/plain" and "html" not in kind:
        # Any other type (Atom type="", or "application/octet-stream" after base64) says neither text
        # nor markup: check only where both readings agree, i.e. where the title holds no markup.
        if normalised_title(check.literal, "text/plain") != normalised_title(check.literal, "text/html"):
            tally.exclude(f"markup in a title of type {kind!r}: neither reading is defined", path)
            return
        reading = "text/plain"
    expected = normalised_title(check.literal, reading)
    # Expect was written for feedparser's own harness (its port, Content-Location as base): where
    # feedparser's own title reads differently from the literal, the literal is not the truth here.
    if normalised_title(raw.get("title"), reading) != expected:
        tally.exclude("feedparser's own title reads differently from Expect", path)
        return
    link = _entry_link(raw)
    if not link:
        tally.exclude("entry has no link (we drop it) and none could be injected", path)
        return
    if any(_entry_link(earlier) == link for earlier in reference.entries[: check.index]):
        tally.exclude("an earlier entry has the same link (we keep the first)", path)
        return
    if result.fetch.error:
        tally.wrong.append(f"{path}: we recorded {result.fetch.error_reason!r}, feedparser has the entry")
        return
    ours = {entry.url: entry for entry in result.entries}.get(canonical_url(link, check.url))
    if ours is None:
        tally.wrong.append(f"{path}: no entry for link {link!r}")
    elif ours.title != expected:
        tally.wrong.append(f"{path}[{check.index}] ({kind}): ours {ours.title!r}, expected {expected!r}")
    else:
        tally.passed += 1
        tally.passed_via_copy += check.via_copy


def test_every_corpus_feed_ends_as_entries_or_a_recorded_failure() -> None:
    root = require_corpus("feedparser")
    cases = [read_case(root, p) for p in sorted(root.rglob("*")) if p.suffix in {".xml", ".json"}]
    assert len(cases) > 2000, "the feedparser corpus looks truncated"

    routes: Routes = {}
    tally = Tally()
    with serve(routes) as base:
        url_of = {case.path: f"{base}/{quote(case.path)}" for case in cases}
        for case in cases:
            routes[f"/{case.path}"] = (case.data, tuple(response_headers(case)))
        checks = plan_title_checks(cases, url_of, base, routes, tally)
        started = time.monotonic()
        with HttpClient(SETTINGS) as client:
            outcomes, hung = fetch_all(client, sorted(set(url_of.values()) | {c.url for c in checks}))
        elapsed = time.monotonic() - started

    # Robustness: every URL (corpus files and linked copies) ends in one of the accepted ways.
    problems = {url: p for url, p in sorted((u, check_outcome(u, o)) for u, o in outcomes.items()) if p}
    kinds = Counter(
        outcome_kind(outcomes[url]) for url in url_of.values() if url in outcomes and url not in problems
    )
    for check in checks:
        outcome = outcomes.get(check.url)
        if outcome is not None and outcome.result is not None and check.url not in problems:
            check_title(check, outcome.result, tally)

    print_summary(len(cases), kinds, problems, hung, tally, elapsed, outcomes)
    assert not hung, f"fetches still running after {RUN_DEADLINE_S:g} s: {hung}"
    assert not problems, "\n".join(f"{url}: {problem}" for url, problem in problems.items())
    assert not tally.wrong, "wrong titles:\n" + "\n".join(tally.wrong)
    assert tally.passed > 100, "the title check lost its cases"


def print_summary(
    files: int,
    kinds: Counter[str],
    problems: dict[str, str],
    hung: list[str],
    tally: Tally,
    elapsed: float,
    outcomes: dict[str, Outcome],
) -> None:
    """Print what happened to the corpus, and why each excluded title check was excluded."""
    rows: list[tuple[str, int]] = [("corpus files served", files)]
    rows += sorted(kinds.items(), key=lambda kv: (not kv[0].startswith("with"), kv[0]))
    rows += [("crashed or inconsistent", len(problems)), ("hung", len(hung))]
    rows += [("title checks passed", tally.passed)]
    rows += [("  of them via a copy with injected links", tally.passed_via_copy)]
    rows += [(f"title checks excluded: {reason}", n) for reason, n in sorted(tally.excluded.items())]
    rows += [("title checks failed", len(tally.wrong))]
    width = max(len(label) for label, _ in rows)
    print(
        f"\nfeedparser corpus over loopback HTTP: {len(outcomes)} fetches, {WORKERS} workers, {elapsed:.1f} s"
    )
    for label, count in rows:
        print(f"  {label:<{width}}  {count:>5}")
    for reason, paths in sorted(tally.examples.items()):
        print(f"  excluded ({reason}): {', '.join(sorted(set(paths))[:4])}")
    if outcomes:
        url, slowest = max(outcomes.items(), key=lambda item: item[1].seconds)
        print(f"  slowest fetch: {slowest.seconds:.2f} s ({urlsplit(url).path})")
