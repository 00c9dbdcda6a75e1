"""Decoding an HTML page's bytes: BOM, the HTTP charset, valid UTF-8, <meta charset>, then cp1252."""

from __future__ import annotations

import codecs
import re

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _known_codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None


def decode_html(body: bytes, header_charset: str | None = None) -> str:
    """Decode an HTML page: BOM, then the HTTP charset, then valid UTF-8, then <meta charset>, then cp1252.

    Args:
        body: The bytes as served.
        header_charset: Charset from Content-Type, if any.

    Returns:
        The page as text (undecodable bytes replaced, never an exception).
    """
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, errors="replace")
    candidates: list[str | None] = [_known_codec(header_charset)]
    # Non-ASCII bytes that are valid UTF-8 are UTF-8 in practice (Latin-1 text almost never is), so they
    # beat a <meta charset> that a CMS left over from an older page encoding.
    if not body.isascii():
        candidates.append("utf-8")
    match = _META_CHARSET.search(body[:4096])
    if match:
        candidates.append(_known_codec(match.group(1).decode("ascii", "ignore")))
    candidates.append("utf-8")
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return body.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    # Windows-1252 decodes every byte: a safe last resort that keeps Western text readable.
    return body.decode("cp1252", errors="replace")
