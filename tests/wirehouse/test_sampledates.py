import re
from datetime import date

from wirehouse.demo import NEWSROOM
from wirehouse.sampledates import SAMPLE_DAY, days_to_today, shift_dates


def test_the_sample_day_is_the_newest_day_the_sample_states():
    days = {
        date.fromisoformat(d)
        for path in NEWSROOM.rglob("*")
        if path.is_file()
        for d in re.findall(r"\b20\d\d-\d\d-\d\d\b", path.read_text(encoding="utf-8"))
    }
    assert max(days) == SAMPLE_DAY


def test_every_written_form_moves_by_whole_days():
    text = (
        '"datePublished": "2025-03-14T12:30:00+01:00" <pubDate>Fri, 14 Mar 2025 12:00:00 +0100</pubDate> '
        "14.03.2025 | 14. März 2025 | 14 March 2025 | March 14, 2025 | 14 de marzo de 2025 | 14 mars 2025 "
        "| 31 marzo 2025 | hp-2025-0314-0003"
    )
    moved = shift_dates(text, days_to_today(date(2026, 11, 30)))
    assert moved == (
        '"datePublished": "2026-11-30T12:30:00+01:00" <pubDate>Mon, 30 Nov 2026 12:00:00 +0100</pubDate> '
        "30.11.2026 | 30. November 2026 | 30 November 2026 | November 30, 2026 | 30 de noviembre de 2026 "
        "| 30 novembre 2026 | 17 diciembre 2026 | hp-2025-0314-0003"
    )
    assert shift_dates(text, 0) == text
    assert shift_dates("31 marzo 2025", 260, "it") == "16 dicembre 2025"
    assert shift_dates("31 marzo 2025", 260, "es") == "16 diciembre 2025"
