"""Dateline and agency: where a wire story was filed and which news agencies it credits."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace

from core.records import Article

# agency_code is re-exported for callers that import it from here (tasks.enrich.keywords).
from tasks.agencies import AGENCIES, PRESS_RELEASE, PRESS_RELEASE_WIRES
from tasks.agencies import agency_code as agency_code

logger = logging.getLogger(__name__)


# Lower-case particles that may stand inside a place name: "Frankfurt am Main", "Rio de Janeiro".
_PARTICLES = frozenset(
    {"am", "an", "der", "den", "de", "del", "della", "di", "da", "do", "dos", "das", "du", "des", "la"}
    | {"le", "les", "el", "en", "im", "on", "upon", "sur", "y", "e", "et", "bei", "ob", "of", "van"}
    | {"au", "aux", "sous", "dem", "vom", "zum"}
)
# All-caps first words that are kickers or acronyms, not places ("UPDATE — ...", "NATO — ...").
_NOT_PLACES = frozenset(
    {"update", "updated", "breaking", "eilmeldung", "exklusiv", "exclusive", "exclusif", "analyse"}
    | {"analysis", "kommentar", "interview", "live", "ticker", "erratum", "correction", "korrektur"}
    | {"urgent", "aktualisiert", "video", "foto", "photo", "reportage", "opinion", "meinung", "watch"}
    | {"faktencheck", "factcheck", "nato", "opec", "nasa", "fifa", "uefa", "usa", "eu", "un", "uno"}
    | {"news", "achtung", "hinweis", "anzeige", "sponsored", "advertorial"}
)
_DASHES = "-–—―‒"
_GROUP = re.compile(r"\(([^()\n]{1,60})\)")
_GROUP_SPLIT = re.compile(r"\s*(?:[/,;&+|]|\s(?:und|and|et|y|e|u\.)\s)\s*")
_EDITOR_CODE = re.compile(r"[a-z]{1,4}")  # initials or a regional service: (AFP/jm), (dpa/lnw)
_SEPARATOR = re.compile(rf"\.?\s*(?:[{_DASHES}]{{1,2}}|:)\s*")
_PLACE_WORD = re.compile(r"[^\W\d_][\w'’.]*")
_PLACE_ABBREVIATION = re.compile(r"[a-zäöü]{1,2}\.(?:[A-Za-zÄÖÜ]{1,3}\.)*")  # Frankfurt a.M., Freiburg i.Br.
_PLACE_PAREN = re.compile(r"\([^\W\d_][\w.]*\)")  # Halle (Saale)
_DATE_SEGMENT = re.compile(r"[\w .'’/]{1,30}")
# The dash after an agency-less dateline: an en/em dash, or a hyphen with space on both sides (so that
# BADEN-BADEN stays one word).
_CAPS_SEPARATOR = re.compile(r"\s*[–—―]{1,2}\s*|\s+-{1,2}\s+")
_BYLINE = re.compile(r"(?:Von|By|Par|Por)\s+\S")
_CREDIT_LINE = re.compile(
    r"(?:©|\(c\)|copyright\b|quellen?\s*:|sources?\s*:|fuentes?\s*:|fonte\s*:|mit\s+material\s+(?:von|der|des|aus)\b"
    r"|material\s*:|with\s+(?:reporting|material)\s+(?:from|by)\b|avec\s|con\s+informaci[oó]n\s+de\b)",
    re.IGNORECASE,
)
# A credit closing the last paragraph follows its final sentence: "... sagte er. (dpa)". Without the
# full stop, "... der Agentur Associated Press (AP)." merely spells out a name.
_ENDING_CREDIT = re.compile(r"[.!?»«“”\"]\s*\(([^()\n]{1,60})\)\.?$")
_DPA_FOOTER = re.compile(r"(?:^|\s)dpa:\d{6}-")
_LINES_SEARCHED = 3  # a teaser or a byline may stand before the paragraph that carries the dateline
_TAIL_LINES = 3
_MAX_CREDIT_LINE = 200
_MAX_BYLINE = 80


@dataclass(frozen=True)
class Dateline:
    """A dateline found at the start of a text."""

    place: str | None
    agencies: tuple[str, ...]


def _agency_names_pattern() -> re.Pattern[str]:
    names = sorted([*AGENCIES, *PRESS_RELEASE_WIRES], key=len, reverse=True)
    alternation = "|".join(re.escape(name).replace(r"\ ", r"\s+") for name in names)
    return re.compile(rf"(?<![\w-])(?:{alternation})(?![\w-])", re.IGNORECASE)


_AGENCY_NAME = _agency_names_pattern()


def agencies_in_credit(text: str) -> tuple[str, ...]:
    """Find agency names in a credit such as a byline, an author field or a closing credit line.

    Args:
        text: The credit, e.g. ``"Anna Schmidt, dpa"`` or ``"Mit Material von Reuters und AFP"``.

    Returns:
        Agency codes in order of appearance, unique.
    """
    found: list[str] = []
    for match in _AGENCY_NAME.finditer(text):
        code = agency_code(match.group(0))
        if code and code != PRESS_RELEASE and code not in found:
            found.append(code)
    if _DPA_FOOTER.search(text) and "dpa" not in found:
        found.append("dpa")
    return tuple(found)


def parse_agency_group(group: str) -> tuple[str, ...] | None:
    """Read the inside of a dateline's parentheses, e.g. ``dpa/AFP`` or ``dpa/lnw``.

    Every part must be an agency (or press-release wire) or a short lower-case editor or regional
    code, and one at least must be an agency or wire: that keeps ``(AAPL)``, ``(CDU)`` and
    ``(gegründet 1990)`` from passing for credits.

    Args:
        group: The text between the parentheses.

    Returns:
        The agency codes (empty for a press-release wire alone), or None when this is no credit.
    """
    codes: list[str] = []
    known = False
    for part in _GROUP_SPLIT.split(group.strip()):
        code = agency_code(part)
        if code is None:
            if not _EDITOR_CODE.fullmatch(part):
                return None
            continue
        known = True
        if code != PRESS_RELEASE and code not in codes:
            codes.append(code)
    return tuple(codes) if known else None


def normalise_place(place: str) -> str:
    """Title-case a place written in capitals (``NEW YORK`` -> ``New York``); leave others as written.

    Args:
        place: The place as the dateline gives it.

    Returns:
        The place for storage.
    """
    if not any(ch.isalpha() for ch in place) or place != place.upper():
        return place

    def word(match: re.Match[str]) -> str:
        token = match.group(0)
        lower = token.lower()
        if match.start() > 0 and lower in _PARTICLES:
            return lower
        if re.fullmatch(r"(?:\w\.)+", token):  # D.C., U.S.
            return token
        return re.sub(r"(^|['’])(\w)", lambda m: m.group(1) + m.group(2).upper(), lower)

    return re.sub(r"[^\s/\-,]+", word, place)


def _place_core_ok(core: str) -> bool:
    tokens = core.split()
    if not tokens or len(tokens) > 5 or len(core) > 50:
        return False
    for position, token in enumerate(tokens):
        if _PLACE_PAREN.fullmatch(token) and position > 0:
            continue
        for index, part in enumerate(re.split(r"[/-]", token)):
            first = position == 0 and index == 0
            if not part:
                return False
            if not first and (part in _PARTICLES or _PLACE_ABBREVIATION.fullmatch(part)):
                continue
            if not (_PLACE_WORD.fullmatch(part) and part[0].isupper()):
                return False
    return True


def parse_place(prefix: str) -> str | None:
    """Read the place (and skip the date) before a dateline's credit or dash.

    ``"NEW YORK, March 3"`` -> ``"New York"``; ``"KYIV, Ukraine"`` -> ``"Kyiv, Ukraine"`` (a region
    after a comma stays: it tells Springfield, Ill. from Springfield, Mass.).

    Args:
        prefix: The text before the credit, without surrounding space.

    Returns:
        The normalised place, or None when the prefix is not a place.
    """
    core, *segments = [segment.strip() for segment in prefix.split(",")]
    if not _place_core_ok(core) or len(segments) > 3 or core.split()[0].casefold() in _NOT_PLACES:
        return None
    parts = [core]
    for segment in segments:
        if any(ch.isdigit() for ch in segment):
            if not _DATE_SEGMENT.fullmatch(segment):
                return None
            continue  # the date: published_at already holds it
        if not segment or len(segment.split()) > 3 or not _place_core_ok(segment):
            return None
        parts.append(segment)
    return ", ".join(normalise_place(part) for part in parts)


def _parse_credit_dateline(line: str) -> Dateline | None:
    for match in _GROUP.finditer(line[:120]):
        agencies = parse_agency_group(match.group(1))
        if agencies is None:
            continue
        prefix = line[: match.start()].strip()
        place = parse_place(prefix) if prefix else None
        if prefix and place is None and prefix.casefold() not in _NOT_PLACES:
            return None  # a kicker ("EXKLUSIV (dpa) -") still credits; any other prefix is a sentence
        rest = line[match.end() :]
        separator = _SEPARATOR.match(rest)
        if separator:
            rest = rest[separator.end() :]
        elif rest.strip() and not (rest[:1].isspace() and _starts_sentence(rest.lstrip())):
            return None  # "The Associated Press (AP) reported": the credit runs on into the sentence
        if place is None:
            # ANSA and others put the credit first: "(ANSA) - ROMA, 12 MAR - Il presidente ..."
            caps = _parse_caps_dateline(rest)
            place = caps.place if caps else None
        return Dateline(place, agencies)
    return None


def _starts_sentence(text: str) -> bool:
    return bool(text) and (text[0].isupper() or text[0].isdigit() or text[0] in "«»„“\"‚‹›'(")


def _parse_caps_dateline(line: str) -> Dateline | None:
    match = _CAPS_SEPARATOR.search(line, 0, 80)
    if not match or match.start() == 0:
        return None
    prefix = line[: match.start()].strip()
    core = prefix.split(",")[0].strip()
    letters = [ch for ch in core if ch.isalpha()]
    # Capitals are what make an agency-less dateline recognisable: "Berlin – Die Regierung ..." could
    # as well be "Gestern – so hieß es – ...", so mixed case without a credit is never a dateline.
    if len(letters) < 3 or core != core.upper() or "(" in prefix:
        return None
    if core.casefold() in _NOT_PLACES:
        return None
    place = parse_place(prefix)
    return Dateline(place, ()) if place else None


def parse_dateline(text: str | None) -> Dateline | None:
    """Parse the dateline at the start of an article body.

    Recognises agency datelines (``Brüssel (dpa) -``, ``NEW YORK, March 3 (Reuters) -``,
    ``MADRID, 3 Mar (EFE).-``, ``(dpa-AFX)``, ``Rom (KNA) Papst ...``) in the first lines, and
    agency-less datelines in capitals with a dash (``WASHINGTON — ...``) on the first line only.
    A byline line before it (``Von Anna Schmidt, dpa``) adds its agencies.

    Args:
        text: The article body.

    Returns:
        The dateline, or None when the text does not start with one.
    """
    if not text:
        return None
    head = (line.strip() for line in text.lstrip().split("\n", 4 * _LINES_SEARCHED)[: 4 * _LINES_SEARCHED])
    lines = [line for line in head if line][:_LINES_SEARCHED]
    byline: tuple[str, ...] = ()
    for number, line in enumerate(lines):
        dateline = _parse_credit_dateline(line)
        if dateline is not None:
            return Dateline(dateline.place, _merge(byline, dateline.agencies))
        if number == 0:
            caps = _parse_caps_dateline(line)
            if caps is not None:
                return caps
            if len(line) <= _MAX_BYLINE and _BYLINE.match(line):
                byline = agencies_in_credit(line)
    return Dateline(None, byline) if byline else None


def closing_credits(text: str | None) -> tuple[str, ...]:
    """Find agencies credited at the end of a text: ``(dpa)``, ``© AFP``, ``Mit Material von Reuters``.

    Only the last few lines count, and only when they are credits (a credit line, a line of nothing
    but a credit, or a paragraph ending in a parenthesised credit): an agency merely named in the
    last sentence ("..., berichtete AFP.") is a source of a statement, not of the article.

    Args:
        text: The article body.

    Returns:
        Agency codes, unique, in order of appearance.
    """
    if not text:
        return ()
    tail = (line.strip() for line in text.rstrip().rsplit("\n", 4 * _TAIL_LINES)[-4 * _TAIL_LINES :])
    lines = [line for line in tail if line][-_TAIL_LINES:]
    found: list[str] = []
    for line in lines:
        bare = line.strip("()[]. ")
        whole_group = parse_agency_group(bare) if len(bare) <= 60 else None
        if whole_group is not None:
            found.extend(whole_group)
        elif len(line) <= _MAX_CREDIT_LINE and (_CREDIT_LINE.match(line) or _DPA_FOOTER.search(line)):
            found.extend(agencies_in_credit(line))
        else:
            ending = _ENDING_CREDIT.search(line)
            if ending:
                found.extend(parse_agency_group(ending.group(1)) or ())
    return _merge((), tuple(found))


def _merge(first: tuple[str, ...], *more: tuple[str, ...]) -> tuple[str, ...]:
    merged = list(first)
    for codes in more:
        merged.extend(code for code in codes if code not in merged)
    return tuple(dict.fromkeys(merged))


def enrich(article: Article) -> Article:
    """Set ``dateline_place`` and add the agencies from the dateline, authors and closing credits.

    Agencies already on the article come first; the text is never changed.

    Args:
        article: The article.

    Returns:
        The article with its dateline place and agencies.
    """
    dateline = parse_dateline(article.text)
    from_authors = tuple(code for author in article.authors for code in agencies_in_credit(author))
    agencies = _merge(
        article.agencies,
        dateline.agencies if dateline else (),
        from_authors,
        closing_credits(article.text),
    )
    place = dateline.place if dateline and dateline.place else article.dateline_place
    return replace(article, dateline_place=place, agencies=agencies)
