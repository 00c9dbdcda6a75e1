import pytest

from tasks.enrich.segmenter import split_sentences, tokenize


def test_sentences_split_as_segtok_does():
    text = (
        "Dr. Müller kam am 24. Mai nach Hamburg. Er sagte z. B. nichts. "
        "Am 3. März 2024 (vgl. S. 5) war das anders! Und dann?"
    )
    # segtok's own quirks included: "24. Mai" and "z. B." end a sentence, "3. März" and "Dr." do not.
    assert split_sentences(text) == [
        "Dr. Müller kam am 24.",
        "Mai nach Hamburg.",
        "Er sagte z.",
        "B. nichts.",
        "Am 3. März 2024 (vgl. S. 5) war das anders!",
        "Und dann?",
    ]


@pytest.mark.parametrize(
    ("sentence", "tokens"),
    [
        (
            "It's Fred's book (HHLA), isn't it?",
            ["It", "Fred", "book", "(", "HHLA", ")", ",", "is", "n't", "it", "?"],
        ),
        (
            "Mail an info@hafen.de oder https://hafen.de/a?b=1 – „Zitat“ 12.000 Euro.",
            [
                "Mail",
                "an",
                "info@hafen.de",
                "oder",
                "https://hafen.de/a?b=1",
                "–",
                "„",
                "Zitat",
                "“",
                "12.000",
                "Euro",
                ".",
            ],
        ),
        ("Der 𝐁𝐨𝐥𝐝 Text: km² und H₂O.", ["Der", "𝐁𝐨𝐥𝐝", "Text", ":", "km²", "und", "H₂O", "."]),
    ],
)
def test_tokens_as_segtok_makes_them(sentence, tokens):
    assert tokenize(sentence) == tokens
