"""News agencies as bylines, datelines and credits name them, and the codes stored in Article.agencies."""

from __future__ import annotations

from collections.abc import Mapping

# Names as agencies, bylines and publishers write them (case-folded) -> the normalised code we store.
# Regional dpa services (dpa/lnw, dpa-lhe, ...) need no entry: a byline or dateline splits at the slash
# and skips the short lower-case code after it, and "dpa-lnw" falls back to its head (see agency_code).
# dpa-AFX is a company of its own (dpa's financial wire, sold separately), so it keeps its own code
# rather than folding into dpa.
AGENCIES: Mapping[str, str] = {
    "dpa": "dpa",
    "deutsche presse-agentur": "dpa",
    "deutsche presse agentur": "dpa",
    "dpa-infocom": "dpa",
    "dpa-afx": "dpa-afx",
    "afx": "dpa-afx",
    "afp": "afp",
    "agence france-presse": "afp",
    "agence france presse": "afp",
    "reuters": "reuters",
    "thomson reuters": "reuters",
    "rtr": "reuters",  # Handelsblatt and others credit Reuters as "rtr"
    "ap": "ap",
    "associated press": "ap",
    "the associated press": "ap",
    "kna": "kna",
    "katholische nachrichten-agentur": "kna",
    "epd": "epd",
    "evangelischer pressedienst": "epd",
    "sid": "sid",
    "sport-informations-dienst": "sid",
    "apa": "apa",
    "austria presse agentur": "apa",
    "austria presse-agentur": "apa",
    "sda": "sda",
    "keystone-sda": "sda",
    "ats": "sda",  # Keystone-ATS is the French-language service of the same Swiss agency
    "keystone-ats": "sda",
    "ansa": "ansa",
    "agi": "agi",
    "adnkronos": "adnkronos",
    "efe": "efe",
    "agencia efe": "efe",
    "europa press": "europapress",
    "europapress": "europapress",
    "upi": "upi",
    "united press international": "upi",
    "dts": "dts",
    "dts nachrichtenagentur": "dts",
    "ddp": "ddp",
    "dapd": "dapd",
    "belga": "belga",
    "anp": "anp",
    "bloomberg": "bloomberg",
    "xinhua": "xinhua",
    "tass": "tass",
    "interfax": "interfax",
    "ria novosti": "ria",
    "ukrinform": "ukrinform",
    "kyodo": "kyodo",
    "jiji": "jiji",
    "yonhap": "yonhap",
    "aap": "aap",
    "pti": "pti",
    "ians": "ians",
    # not the bare "AA": in German credits that is the Auswärtiges Amt far more often than Anadolu
    "anadolu": "aa",
    "anadolu agency": "aa",
    "anadolu ajansı": "aa",
    "anadolu ajansi": "aa",  # "ANADOLU AJANSI" case-folds to a dotted i
    "pap": "pap",
    "ctk": "ctk",
    "čtk": "ctk",
    "mti": "mti",
    "bta": "bta",
    "hina": "hina",
    "tanjug": "tanjug",
    "agerpres": "agerpres",
    "lusa": "lusa",
    "ntb": "ntb",
    "tt": "tt",
    "ritzau": "ritzau",
    "kathpress": "kathpress",
    "pa media": "pa",
    "press association": "pa",
}
# Press-release wires: their dateline is a real dateline, but the text is a company's or a body's own
# statement, not agency journalism, so they never count as an agency.
PRESS_RELEASE_WIRES = frozenset({"ots", "apa-ots", "pts", "pressetext"})
# What agency_code returns for a press-release wire.
PRESS_RELEASE = "press-release"
# Codes that are also given names ("Sid Lowe", "Efe Kaya", "Tass") count only in an agency's own
# spelling (SID/sid); so do two-letter codes ("Ap"). Other codes may come title-cased, as trafilatura
# writes bylines ("Dpa").
NAME_LIKE_CODES = frozenset({"sid", "efe", "hina", "agi", "tass"})


def _code_of(written: str) -> str | None:
    """The code of a whole name as written, with the case rule applied; None when it is none."""
    key = written.casefold()
    if key in PRESS_RELEASE_WIRES:
        return PRESS_RELEASE
    code = AGENCIES.get(key)
    mixed_case = not (written.islower() or written.isupper())
    if code is None or (mixed_case and (len(key) <= 2 or key in NAME_LIKE_CODES)):
        return None
    return code


def _agency_spelling(word: str) -> bool:
    """Whether a word is written as agencies write their short names (AFP, dpa, dpa-AFX), not as a name."""
    return word.isupper() or word[:1].islower()


def agency_code(name: str) -> str | None:
    """The agency a name or byline part stands for ("dpa", "Deutsche Presse-Agentur", "AFP Deutschland").

    Two-letter codes and codes that are also given names count only as agencies write them (``SID``/``sid``,
    never ``Sid``, so "Sid Meier" is a person); the others also title-cased (``Dpa``), as trafilatura
    writes bylines. An agency in its own spelling followed by one more word names one of its services
    (``AFP Deutschland``, ``dpa-AFX Analyser``), and so does a hyphenated regional suffix (``dpa-lnw``).

    Args:
        name: The name as written; surrounding brackets and extra whitespace are ignored.

    Returns:
        The lower-case agency code, :data:`PRESS_RELEASE` for press-release wires (``ots``), or None when
        the name is no agency.
    """
    text = " ".join(name.strip(" ()[]").split())
    if not text:
        return None
    code = _code_of(text)
    if code:
        return code
    words = text.split()
    if len(words) > 2:
        return None
    first = words[0]
    # "AFP Deutschland", "dpa-AFX Analyser": the whole first word; then "dpa-lnw": its head.
    candidates = [first] if len(words) == 2 else []
    head = first.split("-", 1)[0]
    if head != first:
        candidates.append(head)
    for candidate in candidates:
        if candidate and _agency_spelling(candidate):
            code = _code_of(candidate)
            if code:
                return code
    return None
