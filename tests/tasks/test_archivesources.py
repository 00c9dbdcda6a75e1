import pytest

from tasks.archivesources import ArchiveSourceError, expand_sources, open_source
from tasks.retry import RetryPolicy
from tasks.warc import read_archive
from tests.support.warcfiles import write_warc
from tests.tasks.test_warc import CAPTURES, records


def test_sources_expand_globs_and_name_what_is_missing(tmp_path):
    for name in ("b.warc.gz", "a.warc.gz", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    found = expand_sources(
        [str(tmp_path / "*.warc.gz"), str(tmp_path / "a.warc.gz"), "https://x.example/c.warc"]
    )
    assert found == [str(tmp_path / "a.warc.gz"), str(tmp_path / "b.warc.gz"), "https://x.example/c.warc"]
    with pytest.raises(ArchiveSourceError, match="no archive file matches"):
        expand_sources([str(tmp_path / "*.arc")])
    with pytest.raises(ArchiveSourceError, match="no such archive file"):
        expand_sources([str(tmp_path / "missing.warc.gz")])
    with pytest.raises(ArchiveSourceError, match="is a folder"):
        expand_sources([str(tmp_path)])


def test_http_sources_stream_the_file_as_stored(httpserver, tmp_path):
    data = write_warc(tmp_path / "a.warc.gz", CAPTURES).read_bytes()
    # A server that labels the gzip file with a Content-Encoding must not have it undone.
    httpserver.expect_request("/crawl/a.warc.gz").respond_with_data(
        data, headers={"Content-Encoding": "gzip"}, content_type="application/warc"
    )
    with open_source(httpserver.url_for("/crawl/a.warc.gz")) as stream:
        assert [r.url for r in records(read_archive(stream))] == [c.url for c in CAPTURES]
    httpserver.expect_request("/nothing.warc.gz").respond_with_data("no", status=404)
    with (
        pytest.raises(ArchiveSourceError, match="HTTP 404"),
        open_source(httpserver.url_for("/nothing.warc.gz")),
    ):
        pass


def test_http_sources_that_say_not_now_are_tried_again_by_the_retry_policy(httpserver, tmp_path):
    data = write_warc(tmp_path / "a.warc.gz", CAPTURES).read_bytes()
    quick = RetryPolicy(base_delay=0.01, max_delay=0.01, retry_after_cap=1.0, max_attempts=3)
    httpserver.expect_oneshot_request("/busy.warc.gz").respond_with_data("", status=503)
    httpserver.expect_oneshot_request("/busy.warc.gz").respond_with_data(
        "", status=429, headers={"Retry-After": "0"}
    )
    httpserver.expect_request("/busy.warc.gz").respond_with_data(data)
    with open_source(httpserver.url_for("/busy.warc.gz"), retry=quick) as stream:
        assert [r.url for r in records(read_archive(stream))] == [c.url for c in CAPTURES]
    httpserver.expect_request("/down.warc.gz").respond_with_data("", status=502)
    with (
        pytest.raises(ArchiveSourceError, match="HTTP 502"),
        open_source(httpserver.url_for("/down.warc.gz"), retry=quick),
    ):
        pass
    assert sum(request.path == "/down.warc.gz" for request, _ in httpserver.log) == quick.max_attempts
    # A wait longer than the policy obeys is not waited for: the next backfill takes the file.
    httpserver.expect_request("/later.warc.gz").respond_with_data(
        "", status=503, headers={"Retry-After": "3600"}
    )
    with (
        pytest.raises(ArchiveSourceError, match="HTTP 503"),
        open_source(httpserver.url_for("/later.warc.gz"), retry=quick),
    ):
        pass
    assert sum(request.path == "/later.warc.gz" for request, _ in httpserver.log) == 1
