"""langfast against the real langdetect (seed 0): the same languages and the same probabilities, bit for bit."""

import gzip
import json
import random
import threading
from pathlib import Path

import lxml.html
import numpy as np
import pytest
from langdetect import DetectorFactory
from langdetect import detect_langs as langdetect_detect_langs
from langdetect.detector_factory import init_factory
from langdetect.lang_detect_exception import LangDetectException

from tasks.enrich import langfast
from tests.conftest import CORPORA
from tests.tasks.enrich.test_keywords import ENGLISH, GERMAN
from tests.tasks.enrich.test_language import GALICIAN, SAMPLES, ZULU

PROJECT = Path(__file__).resolve().parents[3]
FUNDUS = CORPORA / "fundus"
SAMPLE_CHARS = 1000

# Hand-written texts: scripts, lengths and the corner cases of langdetect's text cleaning.
TEXTS = {
    "de": "Die Bundesregierung hat am Mittwoch einen Gesetzentwurf zur Reform der Pflegeversicherung "
    "beschlossen. Die Beiträge sollen im kommenden Jahr um 0,2 Prozentpunkte steigen.",
    "de short": "Straßenbahn fährt wieder",
    "en": "The city council voted on Tuesday to extend the night bus service, after months of "
    "complaints from shift workers who said they had no way to get home.",
    "en short": "Dog",
    "fr": "Le gouvernement a présenté mercredi un projet de loi visant à simplifier les démarches "
    "administratives des entreprises, une promesse de campagne du président.",
    "es": "El Ayuntamiento aprobó este martes la ampliación del horario del metro durante los fines "
    "de semana, una medida reclamada desde hace años por los vecinos.",
    "ru": "Правительство одобрило законопроект о реформе пенсионной системы. Министр финансов заявил, "
    "что изменения вступят в силу в начале следующего года.",
    "ar": "أعلنت الحكومة اليوم عن خطة جديدة لدعم الشركات الصغيرة والمتوسطة، وقال وزير الاقتصاد "
    "إن البرنامج سيوفر آلاف فرص العمل خلال العامين المقبلين. ویژه",
    "el": "Η κυβέρνηση ανακοίνωσε σήμερα νέα μέτρα στήριξης για τις μικρές επιχειρήσεις, "
    "ενώ ο υπουργός Οικονομικών δήλωσε ότι το πρόγραμμα θα ξεκινήσει τον Ιανουάριο.",
    "ja": "政府は今日、中小企業を支援するための新しい計画を発表した。経済大臣は、"
    "この計画によって今後二年間で数千人の雇用が生まれると述べた。カタカナとひらがな。",
    "zh": "政府今天宣布了一项支持中小企业的新计划。经济部长表示，该计划将在未来两年内创造数千个就业机会。",
    "zh-tw": "政府今天宣布了一項支持中小企業的新計畫。經濟部長表示，該計畫將在未來兩年內創造數千個就業機會。",
    "ko": "정부는 오늘 중소기업을 지원하기 위한 새로운 계획을 발표했다. 경제부 장관은 이 계획으로 "
    "앞으로 2년 동안 수천 개의 일자리가 생길 것이라고 말했다.",
    "hi": "सरकार ने आज छोटे और मध्यम उद्योगों की सहायता के लिए एक नई योजना की घोषणा की। "
    "आर्थिक मंत्री ने कहा कि इस योजना से अगले दो वर्षों में हज़ारों नौकरियाँ पैदा होंगी।",
    "vi composed": "Chính phủ hôm nay công bố kế hoạch mới nhằm hỗ trợ các doanh nghiệp vừa và nhỏ.",
    # The same sentence with combining marks, which normalize_vi folds back.
    "vi combining": "Chi\u0301nh phu\u0309 ho\u0302m nay co\u0302ng bo\u0302\u0301 ke\u0302\u0301 hoa\u0323ch "
    "mo\u031b\u0301i nha\u0302\u0300m ho\u0302\u0303 tro\u031b\u0323 ca\u0301c doanh nghie\u0323\u0302p.",
    "ro comma below": "Știrile de astăzi: președintele țării a vizitat școala și a discutat cu părinții.",
    "fa yeh": "دولت امروز برنامه‌ای جدید برای حمایت از کسب‌وکارهای کوچک اعلام کرد و وزیر گفت",
    "mixed latin cjk": "Apple発表 iPhone 新型モデル Tokyo 東京 2025年 price 価格 launch 発売 event",
    "mostly cjk with latin": "東京都は本日 new policy を発表した。市民 feedback も求めている。",
    "all caps": "BREAKING NEWS: THE PRIME MINISTER HAS RESIGNED AFTER A VOTE OF NO CONFIDENCE",
    "caps and words": "NATO und EU beraten in BRÜSSEL über die UKRAINE-Hilfe der USA",
    "urls and mail": "Mehr unter https://www.example.com/artikel?id=42&ref=rss oder schreiben Sie an "
    "redaktion@example.de – die Redaktion antwortet werktags. http://x.y/z",
    "punctuation": "«Wir sind bereit», sagte er — und fügte hinzu: „Das ist erst der Anfang.“ …",
    "latin-1 excluded": "Temperatur 20°C\u00a0heute «schön» und »warm«",
    "spaces and newlines": "  Erste   Zeile\n\n\tzweite  Zeile   mit   vielen    Leerzeichen  ",
    "no and sv": "sol og vind",
    "astral": "Emoji 😀 im Text 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 und 𐐀𐐨 Deseret",
    "lone surrogate": "Kaputt \ud800 aber lesbar, der Text geht weiter",
    "ZULU": ZULU,
    "GALICIAN": GALICIAN,
    "GERMAN": GERMAN,
    "ENGLISH": ENGLISH,
    **{f"SAMPLES {code}": text for code, text in SAMPLES.items()},
}
# Texts with no n-gram in any profile: both must refuse them the same way.
NO_FEATURES = [
    "",
    " ",
    "12 34 56",
    "!!! ??? ...",
    "https://example.com/a/b",
    "someone@example.com",
    "\u2003\u2014",
]


@pytest.fixture(scope="module", autouse=True)
def seed_zero():
    """The answers langfast reproduces are langdetect's with seed 0."""
    before = DetectorFactory.seed
    DetectorFactory.seed = 0
    yield
    DetectorFactory.seed = before


def reference(text: str) -> list[tuple[str, float]]:
    return [(found.lang, found.prob) for found in langdetect_detect_langs(text)]


def answer(detect, text: str) -> object:
    try:
        return detect(text)
    except LangDetectException as refused:
        return ("refused", refused.get_code(), str(refused))


def compare(texts: dict[str, str]) -> list[str]:
    """The texts where the answers differ, each with both answers and the largest probability gap."""
    differences = []
    for name, text in texts.items():
        expected, got = answer(reference, text), answer(langfast.detect_langs, text)
        if got != expected:
            gap = None
            if isinstance(got, list) and isinstance(expected, list):
                gap = max((abs(a[1] - b[1]) for a, b in zip(got, expected, strict=False)), default=None)
            differences.append(f"{name}: {got} != {expected} (largest probability gap {gap})")
    return differences


def visible_text(html: bytes) -> str:
    document = lxml.html.document_fromstring(html, parser=lxml.html.HTMLParser(encoding="utf-8"))
    for hidden in document.xpath("//script|//style|//noscript|//template"):
        hidden.drop_tree()
    body = document.find("body")
    return str((body if body is not None else document).text_content())


def newsroom_texts() -> dict[str, str]:
    texts = {}
    for page in sorted((PROJECT / "wirehouse" / "sample_newsroom").glob("*/*.html")):
        html = page.read_bytes()
        document = lxml.html.document_fromstring(html, parser=lxml.html.HTMLParser(encoding="utf-8"))
        texts[f"{page.parent.name}/{page.name} title"] = document.findtext(".//title") or ""
        texts[f"{page.parent.name}/{page.name}"] = visible_text(html)[:SAMPLE_CHARS]
    texts["wire_de.html"] = visible_text(
        (PROJECT / "tests" / "fixtures" / "pages" / "wire_de.html").read_bytes()
    )
    return texts


@pytest.mark.parametrize("name", TEXTS)
def test_same_answer_as_langdetect(name):
    text = TEXTS[name]
    assert langfast.detect_langs(text) == reference(text)


@pytest.mark.parametrize("name", ["de", "ru", "ja", "zh", "vi combining", "urls and mail", "mixed latin cjk"])
def test_long_and_repeated_text(name):
    # Beyond the 1,000-character sample, up to and past langdetect's 10,000-character cut.
    text = "\n".join([TEXTS[name]] * (11000 // max(len(TEXTS[name]), 1) + 1))
    assert langfast.detect_langs(text) == reference(text)


def test_repository_fixtures():
    texts = newsroom_texts()
    assert len(texts) >= 40
    assert compare(texts) == []


@pytest.mark.parametrize("text", NO_FEATURES)
def test_no_features_raises_like_langdetect(text):
    with pytest.raises(LangDetectException) as expected:
        langdetect_detect_langs(text)
    with pytest.raises(LangDetectException) as got:
        langfast.detect_langs(text)
    assert (got.value.get_code(), str(got.value)) == (expected.value.get_code(), str(expected.value))


def test_iteration_limit_is_reached_and_matched(monkeypatch):
    # "Dog" never converges: all seven trials run to langdetect's 1,000-iteration limit.
    calls = []
    real = langfast._trial

    def counting(*args):
        prob, used = real(*args)
        calls.append(used)
        return prob, used

    monkeypatch.setattr(langfast, "_trial", counting)
    assert langfast.detect_langs("Dog") == reference("Dog")
    assert calls == [1001] * 7


def test_language_order_is_langdetects():
    # The order decides ties and the order of the sums in the normalisation.
    init_factory()
    from langdetect.detector_factory import _factory

    assert list(langfast.languages()) == _factory.get_lang_list()


class CountingRandom(random.Random):
    """A Random that counts the 32-bit words its choices take (choice draws through getrandbits)."""

    words = 0

    def getrandbits(self, k: int) -> int:
        self.words += (k + 31) // 32
        return super().getrandbits(k)


@pytest.mark.parametrize("bound", [1, 2, 3, 7, 64, 65, 1000, 2481, 29999])
def test_choices_are_random_choice(bound):
    model, stream = langfast._loaded()
    choices = langfast._Choices(model, stream, np.zeros(bound, dtype=np.intp))
    rng = CountingRandom(0)
    items = list(range(bound))
    for skip in (0, 4, 1234):  # words between trials: none, a gauss(), a long run of other words
        if skip:
            rng.getrandbits(32 * skip)
        start = choices.first_from(rng.words)
        expected = [rng.choice(items) for _ in range(300)]
        assert choices.chosen(start, 300).tolist() == expected
        # The stream word after the last choice is where the next gauss() or trial begins.
        assert int(choices.at[start + 299]) + 1 == rng.words


def test_threads_get_the_same_answers():
    texts = list(TEXTS.values())
    expected = [langfast.detect_langs(text) for text in texts]
    results: dict[int, list[list[tuple[str, float]]]] = {}

    def work(number: int) -> None:
        results[number] = [langfast.detect_langs(text) for text in texts]

    threads = [threading.Thread(target=work, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results[number] == expected for number in range(4))


@pytest.mark.corpus
def test_fundus_corpus():
    """Page text (first 1,000 characters), article body (ditto) and title of every corpus page."""
    if not FUNDUS.is_dir():
        pytest.skip("needs ../shared/corpora/fundus")
    texts = {}
    for line in (FUNDUS / "truth.jsonl").read_text(encoding="utf-8").splitlines():
        page = json.loads(line)
        texts[f"{page['file']} page"] = visible_text(gzip.decompress((FUNDUS / page["file"]).read_bytes()))[
            :SAMPLE_CHARS
        ]
        texts[f"{page['file']} body"] = (page.get("body") or "")[:SAMPLE_CHARS]
        texts[f"{page['file']} title"] = page.get("title") or ""
    texts = {name: text for name, text in texts.items() if text.strip()}
    assert len(texts) >= 3 * 120
    assert compare(texts) == []
