import pytest

from tasks.archivesources import ArchiveSourceError, expand_sources, open_source
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
