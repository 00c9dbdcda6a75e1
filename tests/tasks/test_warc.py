"""Reading archives: WARC (gzipped per record, or plain) and ARC responses, and every bad record counted."""

from __future__ import annotations

import gzip
import io
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tasks import warc
from tasks.warc import (
    ArchiveProblem,
    ArchiveRecord,
    parse_content_type,
    read_archive,
)
from tests.support.warcfiles import Capture, page, warc_member, write_arc, write_warc

CAPTURES = [
    Capture(
        "https://www.harbour-news.example/city/bridge-delayed",
        page("Bridge delayed", ["The harbour bridge is late again."]),
    ),
    Capture(
        "https://harbour-news.example/sport/rowing?id=7",
        page("Rowing club wins", ["The club won the regatta."]),
        content_type="text/html; charset=ISO-8859-1",
        date="2024-10-29T10:30:00Z",
    ),
    Capture("https://other.example/", page("Front page", ["Welcome."])),
]


def read(data: bytes) -> list[ArchiveRecord | ArchiveProblem]:
    return list(read_archive(io.BytesIO(data)))


def records(items):
    return [i for i in items if isinstance(i, ArchiveRecord)]


def problems(items):
    return [i for i in items if isinstance(i, ArchiveProblem)]


def test_gzipped_warc_gives_each_response_with_its_capture_details(tmp_path):
    path = write_warc(tmp_path / "a.warc.gz", CAPTURES)
    items = read(path.read_bytes())
    assert problems(items) == []
    got = records(items)
    assert [r.url for r in got] == [c.url for c in CAPTURES]
    assert [r.body for r in got] == [c.body for c in CAPTURES]
    second = got[1]
    assert (second.http_status, second.content_type, second.charset) == (200, "text/html", "iso-8859-1")
    assert second.warc_date == datetime(2024, 10, 29, 10, 30, tzinfo=UTC)
    assert second.record_id and second.record_id.startswith("<urn:uuid:")
    # The offset is where the record's gzip member starts: reading from there gives that record first.
    data = path.read_bytes()
    for record in got:
        (first, *_) = read(data[record.offset :])
        assert replace(first, offset=record.offset) == record


def test_plain_warc_gives_the_same_records_with_their_offsets(tmp_path):
    plain = write_warc(tmp_path / "a.warc", CAPTURES, compress=False).read_bytes()
    zipped = write_warc(tmp_path / "a.warc.gz", CAPTURES).read_bytes()
    fields = lambda r: (r.url, r.http_status, r.content_type, r.charset, r.body, r.warc_date)  # noqa: E731
    assert [fields(r) for r in records(read(plain))] == [fields(r) for r in records(read(zipped))]
    offsets = [r.offset for r in records(read(plain))]
    assert offsets[0] == 0 and all(plain[o:].startswith(b"WARC/1.") for o in offsets)


def test_arc_files_are_read_too(tmp_path):
    path = write_arc(tmp_path / "old.arc.gz", CAPTURES)
    got = read(path.read_bytes())
    assert problems(got) == []
    assert [(r.url, r.body) for r in records(got)] == [(c.url, c.body) for c in CAPTURES]
    assert records(got)[1].warc_date == datetime(2024, 10, 29, 10, 30, tzinfo=UTC)
    assert records(got)[1].charset == "iso-8859-1"
    # ARC records have no ids (warcio would invent new ones on each read): the offset locates them.
    assert {r.record_id for r in records(got)} == {None}


def test_requests_and_metadata_are_no_records_and_no_problems():
    data = b"".join(warc_member(c, with_request=True) for c in CAPTURES)
    got = read(data)
    assert problems(got) == [] and len(records(got)) == 3


def test_non_html_and_error_responses_are_counted_with_their_urls():
    data = b"".join(
        [
            warc_member(CAPTURES[0]),
            warc_member(Capture("https://x.example/logo.png", b"\x89PNG\r\n", content_type="image/png")),
            warc_member(Capture("https://x.example/gone", page("Gone", ["no"]), status="404 Not Found")),
            warc_member(Capture("https://x.example/sniffed", page("Sniffed", ["yes"]), content_type="")),
            warc_member(CAPTURES[1]),
        ]
    )
    got = read(data)
    assert [(p.kind, p.url, p.http_status) for p in problems(got)] == [
        ("not_html", "https://x.example/logo.png", 200),
        ("http_error", "https://x.example/gone", 404),
    ]
    # A response without a Content-Type is taken when its bytes are HTML.
    assert [r.url for r in records(got)] == [CAPTURES[0].url, "https://x.example/sniffed", CAPTURES[1].url]


def broken(member: bytes) -> bytes:
    """The member with its deflate stream overwritten in the middle (header and length intact)."""
    middle = len(member) // 2
    return member[:20] + bytes(len(member[20:middle])) + member[middle:]


def test_a_broken_gzip_member_costs_that_member_only():
    members = [warc_member(c) for c in CAPTURES]
    data = members[0] + broken(members[1]) + members[2]
    got = read(data)
    assert [r.url for r in records(got)] == [CAPTURES[0].url, CAPTURES[2].url]
    (problem,) = problems(got)
    assert problem.kind == "broken_gzip" and problem.offset == len(members[0])


def test_garbage_between_members_and_after_the_last_is_one_problem_each():
    members = [warc_member(c) for c in CAPTURES]
    data = members[0] + b"\x1f\x8b\x08 not really gzip" + members[1] + b"trailing junk"
    got = read(data)
    assert [r.url for r in records(got)] == [CAPTURES[0].url, CAPTURES[1].url]
    assert [p.kind for p in problems(got)] == ["broken_gzip", "broken_gzip"]


def test_a_file_cut_inside_a_gzip_member_ends_in_a_truncated_problem():
    members = [warc_member(c) for c in CAPTURES]
    data = members[0] + members[1] + members[2][: len(members[2]) // 2]
    got = read(data)
    assert [r.url for r in records(got)] == [CAPTURES[0].url, CAPTURES[1].url]
    assert [(p.kind, p.offset) for p in problems(got)] == [("truncated", len(members[0]) + len(members[1]))]


def test_a_record_shorter_than_its_length_is_truncated(tmp_path):
    plain = write_warc(tmp_path / "a.warc", CAPTURES, compress=False).read_bytes()
    got = read(plain[:-40])
    assert [r.url for r in records(got)] == [CAPTURES[0].url, CAPTURES[1].url]
    (problem,) = problems(got)
    assert (problem.kind, problem.url) == ("truncated", CAPTURES[2].url)
    # The same inside a complete gzip member: the record's declared length is more than it holds.
    member = gzip.compress(warc_member(CAPTURES[0], compress=False)[:-40])
    assert [(p.kind, p.url) for p in problems(read(member))] == [("truncated", CAPTURES[0].url)]


def test_a_payload_cut_by_the_crawler_is_truncated():
    member = warc_member(CAPTURES[0], compress=False)
    marked = member.replace(b"WARC-Type: response\r\n", b"WARC-Type: response\r\nWARC-Truncated: length\r\n")
    assert [p.kind for p in problems(read(gzip.compress(marked)))] == ["truncated"]


def test_what_is_no_archive_is_one_unreadable_problem_not_an_exception():
    assert [p.kind for p in read(b"<html>this is a web page, not an archive</html>")] == ["unreadable"]
    assert read(b"") == []


def test_a_record_too_large_is_skipped_without_inflating_it_all(monkeypatch):
    monkeypatch.setattr(warc, "MAX_RECORD_BYTES", 2000)
    big = Capture("https://x.example/big", page("Big", ["word " * 2000]))
    got = read(warc_member(CAPTURES[0]) + warc_member(big) + warc_member(CAPTURES[1]))
    assert [r.url for r in records(got)] == [CAPTURES[0].url, CAPTURES[1].url]
    assert [p.kind for p in problems(got)] == ["too_large"]


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_members_spanning_read_chunks_read_the_same(monkeypatch, chunk):
    members = [warc_member(c) for c in CAPTURES]
    data = members[0] + broken(members[1]) + b"junk" + members[2] + members[0][:30]
    expected = read(data)
    monkeypatch.setattr(warc, "READ_CHUNK", chunk)
    assert read(data) == expected
    assert [p.kind for p in problems(expected)] == ["broken_gzip", "truncated"]


def test_content_type():
    assert parse_content_type('Text/HTML; Charset="UTF-8"') == ("text/html", "utf-8")
    assert parse_content_type(None) == (None, None)
