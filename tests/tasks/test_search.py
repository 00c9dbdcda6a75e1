from tasks.search import make_snippet, query_terms, stemmer_for

# --------------------------------------------------------------------------- pure functions


def test_snippet_marks_the_first_match_and_its_stemmed_forms():
    text = "Der Soldatenfriedhof liegt weit.\nViele Soldaten starben in Nordkoreas Armee."
    assert make_snippet(text, ["Soldaten", "soldat", "Nordkorea"]) == (
        "Der Soldatenfriedhof liegt weit. Viele **Soldaten** starben in **Nordkoreas** Armee."
    )


def test_snippet_ignores_case_and_accents():
    assert make_snippet("Die BÜRGER wählen.", ["burger"]) == "Die **BÜRGER** wählen."


def test_snippet_is_a_window_around_the_match_cut_at_words():
    text = "alpha " * 100 + "Treffer " + "omega " * 100
    snippet = make_snippet(text, ["treffer"])
    assert snippet.startswith("…alpha") and snippet.endswith("omega…")
    assert "**Treffer**" in snippet
    assert 150 <= len(snippet.replace("**", "")) <= 205
    assert "alph " not in snippet and not snippet.endswith("omeg…")


def test_snippet_without_a_match_is_the_start_of_the_text():
    assert make_snippet("word " * 100, ["zzz"]).startswith("word word")
    assert make_snippet("kurz", ["zzz"]) == "kurz"
    assert make_snippet(None, ["x"]) == ""


def test_snippet_marks_chinese_and_japanese_characters_and_merges_them():
    assert make_snippet("東京都で会議", ["東", "京"]) == "**東京**都で会議"


def test_query_terms_split_words_and_cjk_characters():
    assert query_terms("Nordkorea  Soldaten, Nordkorea!") == ["Nordkorea", "Soldaten"]
    assert query_terms("東京 news") == ["東", "京", "news"]
    assert query_terms(" ... ") == []


def test_stemmer_for_language_codes():
    assert stemmer_for("de") == "german"
    assert stemmer_for("pt-BR") == "portuguese"
    assert stemmer_for("ja") == "none"
    assert stemmer_for(None) == "none"
    assert stemmer_for("../x") == "none"
