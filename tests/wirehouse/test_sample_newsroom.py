"""Golden files: every page of the bundled sample newsroom extracts and enriches to its expected JSON.

Runs without ../shared. After a deliberate change: ``.venv/bin/python -m tests.support.golden --update``, then
review the diff of tests/fixtures/golden/.
"""

from __future__ import annotations

import json

import pytest

from tests.support.golden import GOLDEN, article_pages, golden_path, render

PAGES = article_pages()


def test_every_article_page_has_a_golden_file_and_no_golden_file_is_stale():
    assert len(PAGES) >= 20
    expected = {golden_path(page) for page in PAGES}
    assert expected == set(GOLDEN.glob("*/*.json"))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_sample_page_matches_its_golden_file(page):
    expected = json.loads(golden_path(page).read_text("utf-8"))
    got = render(page)
    differ = {
        k: (expected.get(k), got.get(k))
        for k in sorted(set(expected) | set(got))
        if expected.get(k) != got.get(k)
    }
    assert not differ, (
        f"{page.name}: fields differ (golden, now); regenerate with `python -m tests.support.golden --update`: {differ}"
    )
