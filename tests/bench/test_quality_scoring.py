from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from bench.quality import author_f1, body_counts, body_scores, date_matches, main, shingles, title_matches


def test_shingles_are_lower_case_word_4gram_multisets():
    assert shingles("Ein Zug, ein Zug, ein Zug!") == {
        ("ein", "zug", "ein", "zug"): 2,
        ("zug", "ein", "zug", "ein"): 1,
    }
    assert shingles("Kurz da") == {("kurz", "da"): 1}  # shorter than four words: one shingle
    assert shingles("") == {}


def test_body_counts_are_normalised_per_document():
    truth = "eins zwei drei vier fünf"  # shingles: (1234), (2345)
    assert body_counts(truth, truth) == (1.0, 0.0, 0.0)
    tp, fp, fn = body_counts(truth, "eins zwei drei vier sechs")
    assert (tp, fp, fn) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert body_counts(truth, None) == (0.0, 0.0, 1.0)  # a missing page is an empty prediction
    assert body_counts("", "") == (0.0, 0.0, 0.0)


def test_body_scores_average_precision_and_recall_over_documents():
    counts = [(1.0, 0.0, 0.0), (0.5, 0.5, 0.0), (0.0, 0.0, 1.0)]
    precision, recall, f1 = body_scores(counts)
    assert precision == pytest.approx((1 + 0.5 + 0) / 3)
    assert recall == pytest.approx((1 + 1 + 0) / 3)
    assert f1 == pytest.approx(2 * precision * recall / (precision + recall))
    assert body_scores([]) == (0.0, 0.0, 0.0)


def test_titles_compare_on_nfkc_lower_case_words():
    assert title_matches("Ｓturm über Sylt", "sturm  ÜBER sylt!")
    assert not title_matches("Sturm über Sylt", "Sturm über Sylt | Inselbote")
    assert not title_matches("", "")


def test_dates_compare_on_the_day_of_the_right_clock():
    plus2 = timezone(timedelta(hours=2))
    # Truth with an offset: read the prediction on that clock.
    assert date_matches("2024-05-01 22:30:00+00:00", datetime(2024, 5, 2, 0, 30, tzinfo=plus2))
    assert not date_matches("2024-05-01 22:30:00+02:00", datetime(2024, 5, 2, 0, 30, tzinfo=UTC))
    # Naive truth is the page's wall time: read the prediction on its own (the page's) clock.
    assert date_matches("2024-05-02 00:00:00", datetime(2024, 5, 2, 0, 30, tzinfo=plus2))
    assert date_matches("2024-05-02", date(2024, 5, 2))
    assert not date_matches("2024-05-02", None)
    assert not date_matches(None, date(2024, 5, 2))


def test_author_f1_is_a_set_f1_of_normalised_names():
    assert author_f1(["Ana Díaz", "Ole Berg"], ["ana díaz", "OLE  BERG"]) == 1.0
    assert author_f1(["Ana Díaz", "Ole Berg"], ["Ana Díaz"]) == pytest.approx(2 / 3)
    assert author_f1([], []) == 1.0  # nothing stated, nothing claimed: right
    assert author_f1([], ["Ana Díaz"]) == 0.0
    assert author_f1(["Ana Díaz"], []) == 0.0


def test_main_reports_an_absent_corpus_and_exits_zero(tmp_path, capsys):
    assert main(["--corpus", str(tmp_path / "nowhere")]) == 0
    assert "absent" in capsys.readouterr().out


def test_snippet_truth_scores_snippets_titles_and_dates_where_known():
    from bench.quality import Prediction, Tally, snippet_accuracy

    row = {
        "file": "p.html.gz",
        "url": "u",
        "with": ["Der Deich hält", "zwei  Meter"],
        "without": ["Impressum"],
    }
    assert snippet_accuracy(row, "Der Deich hält.\nEr ist zwei Meter hoch.") == 1.0
    assert snippet_accuracy(row, "Der Deich hält. Impressum") == pytest.approx(1 / 3)
    tally = Tally()
    tally.add({**row, "title": "Deich hält"}, Prediction("Der Deich hält", "Deich hält", None, (), None, 0.0))
    tally.add(row, Prediction(None, None, None, (), None, 0.0))  # no truth title or date: not counted there
    columns = tally.row()
    assert (columns["n"], columns["title"], columns["with"]) == (2, 1.0, 0.25)


def test_calibration_groups_pages_by_confidence_band():
    from bench.quality import PageRun, Prediction, calibration

    def run(confidence, text):
        got = Prediction(text, None, None, (), None, 0.0, confidence)
        return PageRun("f", {"file": "x", "body": "eins zwei drei vier fünf"}, b"", {"wirehouse": got})

    bands = calibration([run(0.2, "nichts davon"), run(0.9, "eins zwei drei vier fünf"), run(0.6, None)])
    assert [(n, round(mean, 3)) for _, n, mean in bands] == [(1, 0.0), (1, 0.0), (1, 1.0)]
