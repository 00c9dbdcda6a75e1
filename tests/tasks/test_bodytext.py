from tasks.bodytext import drop_leading_title, reconcile_body
from tests.tasks.test_extract import STORY


def test_drop_leading_title_also_drops_a_headline_with_its_kicker():
    body = "Nach dem Gipfel Fähre fällt aus\nErster Absatz der Meldung."
    assert drop_leading_title(body, "Fähre fällt aus") == "Erster Absatz der Meldung."
    # a first paragraph that merely ends like the title is prose, not a headline
    long_line = "Der Rat tagte lange und am Ende des Abends stand fest: Fähre fällt aus\nZweiter Absatz."
    assert drop_leading_title(long_line, "Fähre fällt aus") == long_line


def test_reconcile_keeps_a_refinement_inside_trafilaturas_answer_and_refuses_another_part_of_the_page():
    menu = "Startseite Politik Wirtschaft Sport Kultur Wetter Region Abo Login Suche " * 4
    assert reconcile_body(STORY, STORY + "\nMehr zum Thema: " + STORY[:80]) == STORY  # trimmed: kept
    assert reconcile_body(menu, STORY) == STORY  # another part of the page: trafilatura's answer
    assert reconcile_body(menu, "Zu kurz.") == menu  # no article in trafilatura's answer either
    assert reconcile_body(STORY * 2, STORY) == STORY * 2  # longer than trafilatura's: nothing lost
