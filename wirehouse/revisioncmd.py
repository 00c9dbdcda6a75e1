"""`wirehouse revisions URL`: every stored version of an article, as a word-level diff."""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Sequence
from typing import Any

from tasks.revisions import word_diff
from tasks.urls import canonical_url
from wirehouse.cliargs import UserError, warehouse_path

# ANSI: removed words red and struck through, added green and underlined (readable without colour too).
_COLOURS = {"-": ("\x1b[31;9m", "\x1b[0m"), "+": ("\x1b[32;4m", "\x1b[0m")}
_PLAIN = {"-": ("[-", "-]"), "+": ("{+", "+}")}


def cmd_revisions(args: argparse.Namespace) -> int:
    """`wirehouse revisions URL`."""
    from warehouse.connection import connect
    from warehouse.revisions import is_stored, revisions_of

    con = connect(warehouse_path(args), read_only=True)
    try:
        url = args.url
        versions = revisions_of(con, url)
        if not versions and not is_stored(con, url):
            url = canonical_url(args.url)
            versions = revisions_of(con, url)
            if not versions and not is_stored(con, url):
                raise UserError(f"no article stored under {args.url}")
    finally:
        con.close()
    colour = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    sys.stdout.write(render_revisions(url, versions, colour))
    return 0


def render_revisions(url: str, versions: Sequence[Sequence[Any]], colour: bool) -> str:
    """The versions of one article as text: each later one as a word diff against the one before.

    Args:
        url: The article.
        versions: Rows of warehouse.revisions.revisions_of.
        colour: ANSI colours (a terminal); otherwise ``[-removed-]`` and ``{+added+}``.

    Returns:
        The text to print.
    """
    if not versions:
        return f"{url}: no later version differs from the first\n"
    marks = _COLOURS if colour else _PLAIN
    lines = [f"{url}: {len(versions) - 1} revisions"]
    for before, after in itertools.pairwise(versions):
        number, fetched_at, title, text, _, _, _, summary, correction = after
        flag = " [correction]" if correction else ""
        lines += ["", f"revision {number} ({fetched_at:%Y-%m-%d %H:%M} UTC): {summary}{flag}"]
        lines.append("title: " + _render(word_diff(before[2], title), marks))
        lines.append(_render(word_diff(before[3], text), marks))
    return "\n".join(lines) + "\n"


def _render(runs: list[tuple[str, str]], marks: dict[str, tuple[str, str]]) -> str:
    parts = []
    for op, words in runs:
        if op == "=":
            parts.append(words)
        else:
            start, end = marks[op]
            # Paragraph breaks stay outside the marks, so a paragraph added is marked on its own line.
            core = words.strip("\n")
            lead, trail = words[: len(words) - len(words.lstrip("\n"))], words[len(words.rstrip("\n")) :]
            parts.append(lead + start + core + end + trail if core else words)
    return " ".join(parts).replace(" \n", "\n").replace("\n ", "\n")
