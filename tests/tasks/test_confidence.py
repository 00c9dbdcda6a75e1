"""How much to trust an extracted body."""

from tasks.confidence import extraction_confidence

PARAGRAPH = (
    "Der Gemeinderat hat am Dienstagabend beschlossen, die alte Schule am Markt zu einem Bürgerhaus umzubauen,"
    " nachdem eine Umfrage unter den Einwohnern eine klare Mehrheit für den Plan ergeben hatte."
)
ARTICLE = "\n".join([PARAGRAPH] * 6)


def test_an_article_of_running_text_is_trusted():
    assert extraction_confidence(ARTICLE, 20 * len(ARTICLE)) >= 0.8


def test_teaser_lines_that_are_the_pages_links_are_not():
    teasers = [f"Schule am Markt wird Bürgerhaus, Teil {n}" for n in range(12)]
    assert extraction_confidence("\n".join(teasers), 200_000, link_texts=teasers) < 0.5


def test_a_body_that_misses_most_of_the_embedded_article_body_loses_trust():
    embedded = " ".join(f"Satz {n} über den Umbau der Schule am Markt und seine Kosten." for n in range(30))
    alone = extraction_confidence(ARTICLE, 20 * len(ARTICLE))
    assert extraction_confidence(ARTICLE, 20 * len(ARTICLE), article_body=embedded) < alone - 0.3
    assert extraction_confidence(ARTICLE, 20 * len(ARTICLE), article_body=ARTICLE) >= alone


def test_boilerplate_at_the_start_and_an_empty_body():
    start = "Wir verwenden Cookies. Newsletter abonnieren.\n" + ARTICLE
    assert extraction_confidence(start, 20 * len(start)) < extraction_confidence(ARTICLE, 20 * len(ARTICLE))
    assert extraction_confidence("", 1000) == 0.0
    assert extraction_confidence(None, 1000) == 0.0
