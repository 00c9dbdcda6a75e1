import gzip
import itertools
import time

import pytest
from werkzeug import Response as WResponse

from core.settings import Settings
from tasks.http import FetchError, HttpClient, fetch_many

LOOPBACK = Settings(
    allow_private_hosts=frozenset({"127.0.0.1", "localhost"}), host_delay=0, total_timeout=5, read_timeout=2
)


@pytest.fixture
def client():
    with HttpClient(LOOPBACK) as c:
        yield c


def test_sends_project_user_agent_and_accepts_gzip(httpserver, client):
    seen = {}

    def handler(request):
        seen.update(request.headers)
        return WResponse(
            gzip.compress("grüße".encode()),
            headers={"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"},
        )

    httpserver.expect_request("/x").respond_with_handler(handler)
    response = client.get(httpserver.url_for("/x"), max_bytes=1000)
    assert response.status == 200
    assert response.body.decode() == "grüße"
    assert seen["User-Agent"].startswith("wirehouse/")
    assert "gzip" in seen["Accept-Encoding"]
    assert response.charset == "utf-8"


def test_follows_redirects_and_reports_the_final_url(httpserver, client):
    httpserver.expect_request("/a").respond_with_data("", status=301, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/c")}
    )
    httpserver.expect_request("/c").respond_with_data("done")
    response = client.get(httpserver.url_for("/a"), max_bytes=100)
    assert response.body == b"done"
    assert response.final_url == httpserver.url_for("/c")
    assert len(response.redirects) == 2


def test_redirect_loop_stops_after_five(httpserver, client):
    httpserver.expect_request("/loop").respond_with_data("", status=302, headers={"Location": "/loop"})
    with pytest.raises(FetchError) as info:
        client.get(httpserver.url_for("/loop"), max_bytes=100)
    assert info.value.reason == "too_many_redirects"


def test_http_errors_are_responses_not_exceptions(httpserver, client):
    httpserver.expect_request("/gone").respond_with_data("bye", status=410)
    assert client.get(httpserver.url_for("/gone"), max_bytes=100).status == 410


def test_body_cap_applies_to_declared_and_streamed_and_decompressed_size(httpserver, client):
    httpserver.expect_request("/big").respond_with_data(b"x" * 5000)
    bomb = gzip.compress(b"\0" * 2_000_000)
    httpserver.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    for path in ("/big", "/bomb"):
        with pytest.raises(FetchError) as info:
            client.get(httpserver.url_for(path), max_bytes=1000)
        assert info.value.reason == "too_large"


def test_slow_server_times_out(httpserver, client):
    def slow(_request):
        time.sleep(3)
        return WResponse("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    with pytest.raises(FetchError) as info:
        client.get(httpserver.url_for("/slow"), max_bytes=100)
    assert info.value.reason == "timeout"
    assert info.value.transient


def test_private_addresses_are_refused_without_allow_list(httpserver):
    httpserver.expect_request("/x").respond_with_data("secret")
    with HttpClient(Settings(host_delay=0)) as guarded:
        for url in (httpserver.url_for("/x"), httpserver.url_for("/x").replace("localhost", "127.0.0.1")):
            with pytest.raises(FetchError) as info:
                guarded.get(url, max_bytes=100)
            assert info.value.reason == "blocked_address"
    assert httpserver.log == []  # nothing reached the server


def test_the_sample_newsrooms_host_goes_to_its_loopback_port_and_nothing_else_does(httpserver):
    from tests.conftest import free_port
    from wirehouse.demo import DEMO_BASE, serve_newsroom

    port = free_port()
    with serve_newsroom(port=port, public_base=DEMO_BASE), HttpClient(Settings(host_delay=0), port) as client:
        opml = client.get(f"{DEMO_BASE}/sample.opml", max_bytes=100_000)  # no allowance needed
        assert opml.status == 200 and f'xmlUrl="{DEMO_BASE}/feeds/' in opml.body.decode()
        with pytest.raises(FetchError) as info:  # any other loopback name stays refused
            client.get(f"http://localhost:{port}/sample.opml", max_bytes=100_000)
        assert info.value.reason == "blocked_address"
    with HttpClient(Settings(host_delay=0), port) as client, pytest.raises(FetchError) as info:
        client.get(f"{DEMO_BASE}/sample.opml", max_bytes=100_000)
    assert info.value.reason == "not_served" and not info.value.transient
    assert f"nothing serves newsroom.localhost on 127.0.0.1:{port}" in str(info.value)


def test_redirect_to_private_address_is_refused(httpserver):
    # The allow-list names "localhost" only; a redirect to 127.0.0.1 must still be refused.
    httpserver.expect_request("/r").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/x").replace("localhost", "127.0.0.1")}
    )
    httpserver.expect_request("/x").respond_with_data("secret")
    settings = Settings(host_delay=0, allow_private_hosts=frozenset({"localhost"}))
    with HttpClient(settings) as client, pytest.raises(FetchError) as info:
        client.get(httpserver.url_for("/r").replace("127.0.0.1", "localhost"), max_bytes=100)
    assert info.value.reason == "blocked_address"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://x", "http:///nohost"])
def test_only_http_schemes(url, client):
    with pytest.raises(FetchError):
        client.get(url, max_bytes=100)


def test_fetch_many_keeps_order_and_turns_errors_into_values(httpserver, client):
    httpserver.expect_request("/1").respond_with_data("one")
    httpserver.expect_request("/2").respond_with_data("two", status=404)
    results = fetch_many(
        client, [httpserver.url_for("/1"), "ftp://x/", httpserver.url_for("/2")], max_bytes=100, workers=4
    )
    assert results[0].body == b"one"
    assert isinstance(results[1], FetchError)
    assert results[2].status == 404


def test_host_delay_spaces_requests_to_one_host(httpserver):
    httpserver.expect_request("/d").respond_with_data("ok")
    starts = []

    def record(_request):
        starts.append(time.monotonic())
        return WResponse("ok")

    httpserver.clear()
    httpserver.expect_request("/d").respond_with_handler(record)
    settings = Settings(
        allow_private_hosts=frozenset({"localhost", "127.0.0.1"}), host_delay=0.3, host_concurrency=4
    )
    with HttpClient(settings) as polite:
        fetch_many(polite, [httpserver.url_for("/d")] * 3, max_bytes=100, workers=3)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 3 and all(gap >= 0.25 for gap in sorted(gaps))


def test_robots_txt_is_obeyed_for_pages_and_its_crawl_delay_slows_the_host(httpserver):
    httpserver.expect_request("/robots.txt").respond_with_data(
        "User-agent: *\nDisallow: /private/\nCrawl-delay: 0.3\n"
    )
    httpserver.expect_request("/private/a.html").respond_with_data("secret")
    httpserver.expect_request("/public/a.html").respond_with_data("fine")
    with HttpClient(LOOPBACK) as client:
        with pytest.raises(FetchError) as info:
            client.get(httpserver.url_for("/private/a.html"), max_bytes=100, check_robots=True)
        assert info.value.reason == "robots_disallowed"
        assert (
            client.get(httpserver.url_for("/public/a.html"), max_bytes=100, check_robots=True).body == b"fine"
        )
        assert (
            client.get(httpserver.url_for("/private/a.html"), max_bytes=100).body == b"secret"
        )  # feeds: no check
    assert [r.path for r, _ in httpserver.log].count("/robots.txt") == 1  # cached per run
    off = Settings(allow_private_hosts=frozenset({"127.0.0.1", "localhost"}), host_delay=0, robots=False)
    with HttpClient(off) as client:
        assert (
            client.get(httpserver.url_for("/private/a.html"), max_bytes=100, check_robots=True).body
            == b"secret"
        )


def test_an_unreachable_robots_txt_means_not_now_not_never(httpserver):
    httpserver.expect_request("/robots.txt").respond_with_data("oops", status=503)
    httpserver.expect_request("/a.html").respond_with_data("page")
    with HttpClient(LOOPBACK) as client, pytest.raises(FetchError) as info:
        client.get(httpserver.url_for("/a.html"), max_bytes=100, check_robots=True)
    assert info.value.reason == "robots_unavailable"
    assert info.value.transient  # the page is stored as retryable and fetched on a later run
    assert "/a.html" not in [r.path for r, _ in httpserver.log]
