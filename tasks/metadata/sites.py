"""The names a site goes by (site-name meta, JSON-LD publisher, host), for cleaning titles and bylines."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from tasks.metadata.jsonld import text_of

SITE_KEYS = ("og:site_name", "application-name", "apple-mobile-web-app-title", "publisher", "twitter:site")


def fold(text: str) -> str:
    """Compare-form of a name: NFKD without accents, ö->o and ß->ss, lower case, letters and digits only."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("ß", "ss"))
    return "".join(c for c in decomposed if c.isalnum())


def _fold_variants(text: str) -> set[str]:
    # German hosts spell umlauts as ae/oe/ue ("boersen-zeitung.de" for "Börsen-Zeitung").
    lowered = text.casefold()
    german = lowered.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    return {v for v in (fold(lowered), fold(german)) if v}


def host_names(url: str | None) -> list[str]:
    """Names a host goes by: ``www.n-tv.de`` gives ``n-tv.de`` and ``n-tv``.

    Args:
        url: A page URL.

    Returns:
        The host without ``www.``/``m.`` and its main label (empty for no URL).
    """
    host = urlsplit(url or "").hostname or ""
    labels = [label for label in host.split(".") if label]
    while labels and labels[0] in ("www", "m", "amp", "mobile"):
        labels = labels[1:]
    if len(labels) < 2:
        return [".".join(labels)] if labels else []
    # The main label is the one before the public suffix (co.jp, com.tr: two short labels at the end).
    suffix = 2 if len(labels) > 2 and len(labels[-2]) <= 3 and len(labels[-1]) == 2 else 1
    main = labels[-suffix - 1]
    return [".".join(labels), ".".join(labels[-suffix - 1 :]), main]


def site_names_of(
    meta: Mapping[str, list[str]], article: Mapping[str, Any] | None, url: str | None
) -> list[str]:
    """Every name the site states for itself, plus its host names.

    Args:
        meta: The page's meta tags.
        article: The page's JSON-LD article, if any.
        url: The page URL.

    Returns:
        Names, most specific first, without duplicates.
    """
    names: list[str] = []
    for key in SITE_KEYS:
        names.extend(text_of(v) or "" for v in meta.get(key, ()))
    if article is not None:
        for key in ("publisher", "sourceOrganization", "isPartOf"):
            value = article.get(key)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    names.append(text_of(item.get("name")) or "")
    names.extend(host_names(url))
    # "Deutsche Welle (www.dw.com)" also goes by "Deutsche Welle"; "@handle" by "handle".
    names.extend(re.sub(r"\s*\(.*?\)\s*", " ", n).strip() for n in list(names) if "(" in n)
    names = [n.lstrip("@") for n in names]
    return list(dict.fromkeys(n for n in names if n and not n.startswith("http")))


def is_site_name(text: str, site_names: Iterable[str]) -> bool:
    """Whether a title segment or byline names the site itself ("Golem.de", "DER SPIEGEL", "n-tv NACHRICHTEN").

    Args:
        text: The candidate.
        site_names: Names from :func:`site_names_of`.

    Returns:
        True when, letters and digits only, it equals a site name, or one begins with the other and the
        shorter has at least three characters ("DW.COM" vs "DW" is too short to guess; "ntvhaber" vs "ntv" not).
    """
    candidate = _fold_variants(text)
    if not candidate:
        return False
    for name in site_names:
        for folded in _fold_variants(name):
            for mine in candidate:
                if mine == folded:
                    return True
                shorter, longer = sorted((mine, folded), key=len)
                if len(shorter) >= 3 and longer.startswith(shorter) and len(text.split()) <= 4:
                    return True
    return False
