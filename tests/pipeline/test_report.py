"""The run report's markdown."""

from pipeline.report import breakdown_markdown


def test_the_report_counts_page_types_and_flags_low_confidence():
    text = breakdown_markdown({"page_type": [("article", 5, 2), ("wall", 1, 0)]})
    assert "| page type | articles | low confidence |" in text
    assert "| article | 5 | 2 |" in text and "| wall | 1 | 0 |" in text
    assert breakdown_markdown({}) == ""
