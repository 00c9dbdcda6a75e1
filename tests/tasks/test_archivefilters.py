from datetime import UTC, datetime

from tasks.archivefilters import host_matches, in_period, split_list


def test_filters():
    assert split_list(["a.example, B.example", " ", "c"]) == ("a.example", "b.example", "c")
    assert host_matches("www.harbour-news.example", ("harbour-news.example",))
    assert not host_matches("harbour-news.example.net", ("harbour-news.example",))
    assert host_matches("blog.other.example", ("*.other.example",))
    assert not host_matches("other.example", ("*.other.example",))
    assert host_matches("anything.example", ())
    day = datetime(2024, 10, 28, tzinfo=UTC)
    later = datetime(2024, 10, 29, tzinfo=UTC)
    assert in_period(day, day, later) and not in_period(later, day, later)
    assert not in_period(None, day, None) and in_period(None, None, None)
