"""The names a site goes by."""

from tasks.metadata import (
    host_names,
    is_site_name,
)


def test_site_names_match_across_spelling_of_hosts():
    assert is_site_name("Börsen-Blatt", ["boersen-blatt.example"])
    assert is_site_name("WATT.de", ["watt.de"])
    assert not is_site_name("Wattenmeer bleibt Weltnaturerbe", ["watt.de"])
    assert host_names("https://news.kaiyo.co.jp/a") == ["news.kaiyo.co.jp", "kaiyo.co.jp", "kaiyo"]
