"""Benchmark wire-copy grouping: outlet variants of real article bodies mixed with rival reports."""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tasks import wirecopy
from tasks.wirecopy import FingerprintedArticle, StoredArticle

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "fundus"
START = datetime(2024, 10, 21, tzinfo=UTC)
# Every story starts within these days, so the time window alone never separates a rival report.
SPREAD = timedelta(days=10)
# Bodies shorter than this would fall under MIN_TOKENS once a variant cuts them.
MIN_SOURCE_TOKENS = 150

_WORD = re.compile(r"\w+")
_SENTENCE = re.compile(r"(?<=[.!?»“\"])\s+(?=[A-ZÄÖÜ«„\"])")
_QUOTES = re.compile(r"[«»„“”\"‚‘]")
_CJK_CHAR = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_CJK_FALLBACK = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年"
_NAME = re.compile(r"(?<=[a-zäöüß,;:] )[A-ZÄÖÜ]\w{3,}")

OUTLETS = [
    (
        "weserland",
        "Dieser Artikel wurde automatisch aus dem dpa-Newskanal übernommen und nicht redaktionell bearbeitet.",
    ),
    (
        "rheinblick",
        "Sie möchten keine Nachricht verpassen? Abonnieren Sie unseren kostenlosen Newsletter am Morgen.",
    ),
    ("alpenbote", "© dpa-infocom, dpa:241028-930-272180/2"),
    (
        "hafenkurier",
        "Unterstützen Sie unabhängigen Lokaljournalismus mit einem Abonnement ab 1 Euro im ersten Monat.",
    ),
    ("elbspiegel", "Hinweis der Redaktion: Dieser Text wurde nach Angaben der Agentur aktualisiert."),
    (
        "mainpost-online",
        "Folgen Sie uns auch auf Whatsapp, Instagram und Mastodon für aktuelle Nachrichten aus der Region.",
    ),
    ("donauecho", ""),
    ("ostseeblatt", "Mehr Nachrichten aus Politik, Wirtschaft und Sport finden Sie in unserem Liveblog."),
    ("harzanzeiger", ""),
    ("saarstimme", "Haben Sie Hinweise oder Fragen zu diesem Thema? Schreiben Sie uns an die Redaktion."),
    ("moselbote", "Lesen Sie alle Artikel mit unserem Digitalabo, jederzeit kündbar."),
    ("isarblick", ""),
    ("neckarzeitung", "Text: dpa. Bearbeitung: Online-Redaktion."),
    (
        "emsland-heute",
        "Dieser Beitrag ist Teil unseres kostenlosen Angebots. Jetzt registrieren und weiterlesen.",
    ),
    ("allgaeu-kurier", ""),
    ("spreewald-nachrichten", "Anzeige: Jetzt die App herunterladen und keine Eilmeldung mehr verpassen."),
    ("swiss-tagblatt", ""),  # writes ss for ß, as Swiss papers do
    ("bodensee-bote", "Kommentare zu diesem Artikel sind geschlossen."),
]
MORE_LABELS = [
    "Mehr zum Thema:",
    "Lesen Sie auch:",
    "Auch interessant:",
    "Read more:",
    "Das könnte Sie interessieren:",
]
QUOTE_STYLES = [("«", "»"), ("„", "“"), ('"', '"'), ("‚", "‘"), ("»", "«")]


@dataclass(frozen=True)
class Source:
    """A real body (or a fixture one) that becomes one or more stories."""

    text: str
    language: str


@dataclass(frozen=True)
class BenchArticle:
    """One generated article: URL, publication time, arrival order, body and its true story."""

    url: str
    seen_at: datetime
    arrives_at: datetime
    text: str
    story: int
    kind: str  # original, copy, rival, rival-copy


# --------------------------------------------------------------------------- sources


def load_sources(corpus: Path | None) -> list[Source]:
    """Read the bodies of a corpus's truth.jsonl, or make fixture texts where the corpus is absent."""
    if corpus is None or not (corpus / "truth.jsonl").is_file():
        return fixture_sources(random.Random(7))
    sources = []
    with (corpus / "truth.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line) if line.strip() else {}
            body = row.get("body") or ""
            if len(wirecopy.tokenize(body)) >= MIN_SOURCE_TOKENS and body.count("\n\n") >= 3:
                sources.append(Source(body, row.get("language") or "und"))
    return sources


_FIXTURE_WORDS = (
    "Regierung Minister Bundestag Kanzler Nato Gipfel Ukraine Russland Soldaten Kommission Haushalt "
    "Verhandlungen Koalition Opposition Parlament Wahl Umfrage Polizei Gericht Urteil Anklage Zeugen "
    "Feuerwehr Unfall Autobahn Bahn Streik Gewerkschaft Tarif Lohn Preise Inflation Zinsen Bank Börse "
    "Unternehmen Konzern Gewinn Verlust Klima Energie Strom Gas Hitze Regen Sturm Wetter Hochwasser "
    "Schule Lehrer Kinder Eltern Klinik Ärzte Patienten Impfung Forscher Studie Ergebnis Bericht "
    "sagte erklärte betonte kündigte forderte warnte kritisierte bestätigte teilte mit berichtete "
    "neue große erste letzten deutschen europäischen internationalen wichtige schwierige klare "
    "am Montag Dienstag Mittwoch Donnerstag Freitag Wochenende Abend Morgen zunächst bislang bereits"
)
_FIXTURE_GLUE = "der die das und in mit auf für von zu den dem nicht auch sich ist hat wird nach bei"


def fixture_sources(rng: random.Random, count: int = 60) -> list[Source]:
    """Make German-like fixture bodies: paragraphs of sentences drawn from a small news vocabulary."""
    vocabulary, glue = _FIXTURE_WORDS.split(), _FIXTURE_GLUE.split()
    sources = []
    for _ in range(count):
        paragraphs = []
        for _ in range(rng.randint(6, 12)):
            sentences = []
            for _ in range(rng.randint(2, 4)):
                words = [
                    rng.choice(vocabulary if rng.random() < 0.6 else glue) for _ in range(rng.randint(8, 18))
                ]
                sentence = " ".join(words)
                if rng.random() < 0.2:
                    sentence = f"«{sentence}», sagte {rng.choice(vocabulary)}"
                sentences.append(sentence[0].upper() + sentence[1:] + ".")
            paragraphs.append(" ".join(sentences))
        sources.append(Source("\n\n".join(paragraphs), "de"))
    return sources


# --------------------------------------------------------------------------- text surgery


def relex(
    text: str,
    rng: random.Random,
    pool: Sequence[str],
    topic: Sequence[str] = (),
    cjk_pool: str = _CJK_FALLBACK,
) -> str:
    """Replace every word of four letters or more consistently with another word of the language.

    This makes a distinct article with the statistics of a real one (paragraphs, sentence lengths,
    function words, numbers); with ``topic`` a third of the words come from another article, so the
    two share vocabulary without sharing sentences.
    """
    mapping: dict[str, str] = {}
    chars: dict[str, str] = {}

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        if _CJK_CHAR.match(word):
            # Japanese runs are whole clauses; swapping them for runs of other articles would copy
            # those articles' clauses, so each character is swapped for another one instead.
            return "".join(
                chars.setdefault(c, rng.choice(cjk_pool)) if _CJK_CHAR.match(c) else c for c in word
            )
        # Scripts beyond Latin (Korean, Japanese...) pack a word into two or three characters.
        if len(word) < (2 if word[0] > "\u024f" else 4) or word.isdigit():
            return word
        key = word.lower()
        if key not in mapping:
            mapping[key] = rng.choice(topic) if topic and rng.random() < 0.33 else rng.choice(pool)
        new = mapping[key]
        return new[:1].upper() + new[1:] if word[:1].isupper() else new

    return _WORD.sub(swap, text)


def sentences_of(text: str) -> list[str]:
    """Split a body into sentences (roughly: good enough to pick quotes and cut typos)."""
    return [s for p in text.split("\n\n") for s in _SENTENCE.split(p) if len(s.split()) >= 6]


def headline_for(text: str, rng: random.Random) -> str:
    """Invent a headline from a few words of the body (each outlet writes its own)."""
    words = [w for w in text.split()[:60] if len(w) > 3]
    picked = rng.sample(words, min(len(words), rng.randint(4, 8)))
    # Cut to a headline's length: Japanese has no spaces, so a "word" can be a whole paragraph.
    return " ".join(picked).strip('.,;:«»„“"')[:70] or "Aktuell"


def fix_typos(text: str, rng: random.Random, count: int) -> str:
    """Change ``count`` words slightly (one version has a typo the other fixed)."""
    words = text.split(" ")
    for _ in range(count):
        index = rng.randrange(len(words))
        word = words[index]
        if len(word) > 4:
            cut = rng.randrange(1, len(word) - 2)
            words[index] = word[:cut] + word[cut + 1] + word[cut] + word[cut + 2 :]
    return " ".join(words)


def outlet_variant(
    text: str, outlet: tuple[str, str], rng: random.Random, filler: Sequence[str], related: str
) -> str:
    """Rewrite a wire text as one outlet publishes it (template, headline, cuts, quotes, typos)."""
    name, footer = outlet
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    roll = rng.random()
    if roll < 0.35:
        paragraphs = paragraphs[: len(paragraphs) - rng.randint(1, 2)]  # trimmed last paragraph(s)
    elif roll < 0.45:
        paragraphs = paragraphs[: max(3, round(len(paragraphs) * rng.uniform(0.45, 0.6)))]  # a short cut
    if rng.random() < 0.25:
        long_ones = [p for p in paragraphs if len(p.split()) > 8]
        paragraphs = long_ones if len(long_ones) >= 3 else paragraphs  # sub-headings dropped
    if rng.random() < 0.25:
        paragraphs.insert(rng.randint(1, len(paragraphs)), rng.choice(filler))  # own added paragraph
    if rng.random() < 0.5:
        paragraphs.insert(0, headline_for(text, rng))  # the extractor kept the outlet's headline
    if rng.random() < 0.4:
        caption = (
            f"{headline_for(text, rng)}. Foto: {rng.choice(['dpa', 'AFP', 'Reuters', 'picture alliance'])}"
        )
        paragraphs.insert(rng.randint(0, min(2, len(paragraphs))), caption)
    if rng.random() < 0.5:
        paragraphs.append(f"{rng.choice(MORE_LABELS)} {headline_for(related, rng)}")
    if footer:
        paragraphs.append(footer)
    body = "\n\n".join(paragraphs)
    if rng.random() < 0.6:
        opening, closing = rng.choice(QUOTE_STYLES)
        body = re.sub(r"[«„\"‚»](?=\w)", opening, body)
        body = re.sub(r"(?<=[\w.,!?])[»“\"‘«]", closing, body)
    if rng.random() < 0.4:
        body = fix_typos(body, rng, rng.randint(1, 3))
    if rng.random() < 0.3:
        body = body.replace(". ", ".  ").replace("\n\n", "\n \n")  # whitespace the extractor kept
    if name == "swiss-tagblatt":
        body = body.replace("ß", "ss")
    return body


def rival_report(text: str, other: str, rng: random.Random, pool: Sequence[str], cjk_pool: str) -> str:
    """Write a distinct report on the same event: other sentences, the same names, quotes and dateline.

    A second agency at the same press conference: its text is written independently (another real
    body, relexed with a third of its words taken from the original, so vocabulary is shared), it
    names the same people and places, quotes one to three of the same sentences verbatim, copies the
    dateline, and sometimes repeats a background paragraph.
    """
    topic = sorted({w.lower() for w in _WORD.findall(text) if len(w) > 3})
    names = _NAME.findall(text) or ["Brüssel"]
    body = relex(other, rng, pool, topic, cjk_pool)
    body = _NAME.sub(lambda _: rng.choice(names), body)
    paragraphs = [p for p in body.split("\n\n") if p.strip()]
    quoted = [s for s in sentences_of(text) if _QUOTES.search(s)] or sentences_of(text)
    for sentence in rng.sample(quoted, min(len(quoted), rng.randint(1, 3))):
        paragraphs.insert(rng.randint(1, len(paragraphs)), sentence)
    # A background paragraph both took from the same source, at most a fifth of the original: more
    # shared text than that and "distinct report" stops being a fair label.
    words = len(text.split())
    own = [p for p in text.split("\n\n") if 20 < len(p.split()) <= words / 5]
    if own and rng.random() < 0.3:
        paragraphs.insert(rng.randint(1, len(paragraphs)), rng.choice(own[1:] or own))
    dateline = re.match(r"^[^\n]{0,40}?\(\w+\)\s*[-–]", text)
    if dateline:
        paragraphs[0] = f"{dateline.group(0)} {paragraphs[0]}"
    return "\n\n".join(paragraphs)


# --------------------------------------------------------------------------- the data set


def generate(articles: int, sources: Sequence[Source], seed: int = 1) -> list[BenchArticle]:
    """Generate ``articles`` articles: stories with 1-8 outlet copies each, half with a rival report.

    The first round of stories uses the sources as they are; later rounds relex them (the same
    paragraph structure with other words), so any number of distinct stories can be made.
    """
    rng = random.Random(seed)
    pools: dict[str, list[str]] = defaultdict(list)
    for source in sources:
        # Sorted: iterating a set of strings follows the per-process hash seed, and the data set must not.
        pools[source.language].extend(sorted({w.lower() for w in _WORD.findall(source.text) if len(w) > 3}))
    cjk_pool = "".join(sorted({c for s in sources for c in s.text if _CJK_CHAR.match(c)})) or _CJK_FALLBACK
    filler = [p for s in sources for p in s.text.split("\n\n") if len(p.split()) > 15]
    out: list[BenchArticle] = []
    story = 0

    def emit(text: str, when: datetime, kind: str, copies: int) -> None:
        nonlocal story
        related = rng.choice(sources).text
        outlets = rng.sample(OUTLETS, min(copies, len(OUTLETS)))
        for number, outlet in enumerate(outlets):
            # Copies appear from two hours before (a clock off, an embargo) to two days after.
            seen = when + timedelta(minutes=rng.randint(-120, 2880)) if number else when
            variant = outlet_variant(
                text, outlet, rng, [relex(rng.choice(filler), rng, pools["de"], cjk_pool=cjk_pool)], related
            )
            url = f"https://{outlet[0]}.example/{story}-{number}-{kind}"
            arrives = seen + timedelta(minutes=rng.randint(0, 36 * 60))
            out.append(
                BenchArticle(url, seen, arrives, variant, story, kind if number == 0 else f"{kind}-copy")
            )
        story += 1

    round_no = 0
    while len(out) < articles:
        order = list(range(len(sources)))
        rng.shuffle(order)
        for index in order:
            if len(out) >= articles:
                break
            source = sources[index]
            pool = pools[source.language]
            text = source.text if round_no == 0 else relex(source.text, rng, pool, cjk_pool=cjk_pool)
            when = START + timedelta(seconds=rng.uniform(0, SPREAD.total_seconds()))
            emit(text, when, "original", rng.choice([1, 1, 2, 3, 4, 5, 6, 8]))
            if rng.random() < 0.5:
                same_language = [s for s in sources if s.language == source.language and s is not source]
                other = rng.choice(same_language or [source]).text
                rival = rival_report(text, other, rng, pool, cjk_pool)
                emit(
                    rival, when + timedelta(minutes=rng.randint(-360, 360)), "rival", rng.choice([1, 1, 2, 3])
                )
        round_no += 1
    return out[:articles]


# --------------------------------------------------------------------------- scoring


def pair_scores(truth: Sequence[int], predicted: Sequence[str]) -> tuple[float, float]:
    """Pairwise precision and recall: pairs in one predicted story vs pairs in one true story."""

    def pairs(counts: Counter[object]) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    both = pairs(Counter(zip(truth, predicted, strict=True)))
    predicted_pairs, true_pairs = pairs(Counter(predicted)), pairs(Counter(truth))
    precision = both / predicted_pairs if predicted_pairs else 1.0
    recall = both / true_pairs if true_pairs else 1.0
    return precision, recall


def root_accuracy(data: Sequence[BenchArticle], story_ids: dict[str, str]) -> float:
    """Share of articles whose story_id is the URL of the earliest article of their true story."""
    earliest: dict[int, tuple[datetime, str]] = {}
    for article in data:
        key = (article.seen_at, article.url)
        earliest[article.story] = min(earliest.get(article.story, key), key)
    return sum(story_ids[a.url] == earliest[a.story][1] for a in data) / len(data)


def simulate_loader(
    records: Sequence[FingerprintedArticle], arrival: Sequence[int], batch_size: int = 50
) -> dict[str, str]:
    """Load records batch by batch in arrival order as the loader would, with an in-memory key table.

    Stands in for the warehouse: `story_keys` is a dict from band key to URLs, the candidate query
    takes every stored article sharing a key within the window, and renames rewrite stored rows.
    """
    keys: dict[int, list[str]] = defaultdict(list)
    stored: dict[str, FingerprintedArticle] = {}
    story_of: dict[str, str] = {}
    members: dict[str, set[str]] = defaultdict(set)
    for start in range(0, len(arrival), batch_size):
        batch = [records[i] for i in arrival[start : start + batch_size]]
        low = min(r.seen_at for r in batch) - wirecopy.WINDOW
        high = max(r.seen_at for r in batch) + wirecopy.WINDOW
        hits = {url for r in batch for key in wirecopy.band_keys(r.fingerprint) for url in keys.get(key, ())}
        candidates = [
            StoredArticle(
                u, stored[u].seen_at, stored[u].fingerprint, story_of[u], stored[story_of[u]].seen_at
            )
            for u in sorted(hits)
            if low <= stored[u].seen_at <= high
        ]
        result = wirecopy.assign_stories(batch, candidates)
        for old, new in result.renamed.items():
            for url in members.pop(old):
                story_of[url] = new
                members[new].add(url)
        for record in batch:
            stored[record.url] = record
            story_of[record.url] = result.story_ids[record.url]
            members[story_of[record.url]].add(record.url)
            for key in wirecopy.band_keys(record.fingerprint):
                keys[key].append(record.url)
    return story_of


@dataclass(frozen=True)
class Measurement:
    """One row of the results table."""

    articles: int
    stories: int
    precision: float
    recall: float
    roots: float
    fingerprint_s: float
    group_s: float
    incremental_s: float
    incremental_same: bool


def measure(data: Sequence[BenchArticle], *, incremental: bool = True) -> Measurement:
    """Fingerprint and group a data set, timing each step, and score it against the truth."""
    started = time.perf_counter()
    prints = [wirecopy.fingerprint(a.text) for a in data]
    fingerprint_s = time.perf_counter() - started
    records = [FingerprintedArticle(a.url, a.seen_at, fp) for a, fp in zip(data, prints, strict=True)]
    started = time.perf_counter()
    story_ids = wirecopy.group_stories(records)
    group_s = time.perf_counter() - started
    precision, recall = pair_scores([a.story for a in data], [story_ids[a.url] for a in data])
    incremental_s, same = 0.0, True
    if incremental:
        arrival = sorted(range(len(data)), key=lambda i: (data[i].arrives_at, data[i].url))
        started = time.perf_counter()
        loaded = simulate_loader(records, arrival)
        incremental_s = time.perf_counter() - started
        same = loaded == story_ids
    return Measurement(
        articles=len(data),
        stories=len({a.story for a in data}),
        precision=precision,
        recall=recall,
        roots=root_accuracy(data, story_ids),
        fingerprint_s=fingerprint_s,
        group_s=group_s,
        incremental_s=incremental_s,
        incremental_same=same,
    )


def sweep(data: Sequence[BenchArticle]) -> None:
    """Print precision/recall for shingle sizes and thresholds, and the containment of hard pairs."""
    truth = [a.story for a in data]
    print("\nshingle  threshold  precision  recall")
    for size in (3, 4, 5, 6, 7):
        prints = [wirecopy.fingerprint(a.text, shingle_size=size) for a in data]
        records = [FingerprintedArticle(a.url, a.seen_at, fp) for a, fp in zip(data, prints, strict=True)]
        for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
            story_ids = wirecopy.group_stories(records, threshold=threshold)
            precision, recall = pair_scores(truth, [story_ids[a.url] for a in data])
            print(f"{size:>7}  {threshold:>9.1f}  {precision:>9.4f}  {recall:>6.4f}")
    prints = [wirecopy.fingerprint(a.text) for a in data]
    by_story: dict[int, list[int]] = defaultdict(list)
    for index, article in enumerate(data):
        by_story[article.story].append(index)
    same, rival = [], []
    for story, indices in by_story.items():
        for a in indices:
            for b in indices:
                fa, fb = prints[a], prints[b]
                if a < b and fa and fb:
                    same.append(wirecopy.similarity(fa, fb))
        original = indices[0]
        for b in by_story.get(story + 1, []):
            fa, fb = prints[original], prints[b]
            if data[original].kind == "original" and data[b].kind.startswith("rival") and fa and fb:
                rival.append(wirecopy.similarity(fa, fb))
    same.sort()
    rival.sort()
    print(f"\ncontainment (shingle {wirecopy.SHINGLE_SIZE}), same story: {len(same)} pairs")
    print(
        " min {:.3f}  p1 {:.3f}  p5 {:.3f}  median {:.3f}".format(
            *(_pick(same, q) for q in (0, 0.01, 0.05, 0.5))
        )
    )
    print(f"original vs its rival report: {len(rival)} pairs")
    print(
        " median {:.3f}  p95 {:.3f}  p99 {:.3f}  max {:.3f}".format(
            *(_pick(rival, q) for q in (0.5, 0.95, 0.99, 1))
        )
    )


def _pick(values: Sequence[float], quantile: float) -> float:
    """Return the value at a quantile of a sorted list (nan when empty)."""
    return values[min(len(values) - 1, int(quantile * len(values)))] if values else float("nan")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(prog="python -m bench.dedup", description=__doc__)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder with truth.jsonl")
    parser.add_argument("--articles", type=int, default=1000, help="articles for the quality row")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sweep", action="store_true", help="also sweep shingle size and threshold")
    parser.add_argument(
        "--timing-sizes",
        type=lambda value: [int(v) for v in value.split(",") if v.strip()],
        default=[1000, 10000],
        help="further data set sizes to measure, comma-separated (default 1000,10000)",
    )
    args = parser.parse_args(argv)

    sources = load_sources(args.corpus)
    origin = (
        "fixture texts (corpus absent)" if not (args.corpus / "truth.jsonl").is_file() else str(args.corpus)
    )
    print(f"sources: {len(sources)} bodies from {origin}")
    print(
        f"shingle {wirecopy.SHINGLE_SIZE} words, {wirecopy.NUM_PERM} MinHash values, {wirecopy.BANDS} bands "
        f"x {wirecopy.BAND_ROWS}, containment >= {wirecopy.THRESHOLD}, window {wirecopy.WINDOW.days} days\n"
    )
    header = (
        "articles  stories  precision  recall  root ok  fingerprint s  group s  loader sim s  loader = batch"
    )
    print(header)
    for size in sorted({args.articles, *args.timing_sizes}):
        data = generate(size, sources, args.seed)
        kinds = Counter(a.kind for a in data)
        row = measure(data)
        print(
            f"{row.articles:>8}  {row.stories:>7}  {row.precision:>9.4f}  {row.recall:>6.4f}  {row.roots:>7.4f}"
            f"  {row.fingerprint_s:>13.2f}  {row.group_s:>7.2f}  {row.incremental_s:>12.2f}  "
            f"{'yes' if row.incremental_same else 'NO':>14}"
        )
        if size == args.articles:
            mix = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
            print(f"{'':>8}  ({mix})")
    if args.sweep:
        sweep(generate(args.articles, sources, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
