"""The article body of a page, by trafilatura and the rules beyond it.

trafilatura's pass (or the article a script ships), cross-checked with the page's articleBody, without a
repeated headline, and never far from what trafilatura alone finds.
"""

from __future__ import annotations

import json
import re
from typing import Any

import trafilatura
from trafilatura.utils import load_html

from tasks.furniture import prune_furniture

# Fewer words than this and trafilatura most likely caught a caption or a cookie box, not an article.
MIN_ARTICLE_WORDS = 25
# articleBody is "complete" when it holds this share of the extracted word 4-grams.
COMPLETE_SHARE = 0.7
# A JSON string literal in an inline script (hydration data of pages rendered in the browser).
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.){200,}"')
# An HTML string in a script is an article (not a menu or a snippet) with at least this many paragraphs.
EMBEDDED_MIN_PARAGRAPHS = 3
# Lines shorter than this are sub-headings or datelines: kept even where articleBody lacks them.
HEADING_WORDS = 8
# The safety net (see reconcile_body): below this share of the refined body found in trafilatura's own
# answer, the refinements took another part of the page than the article trafilatura alone finds.
SAME_PART_SHARE = 0.5


def text_words(text: str | None) -> list[str]:
    """The words of a text, case-folded (none for None)."""
    return re.findall(r"\w+", (text or "").casefold())


def drop_leading_title(text: str, title: str | None) -> str:
    """Remove the headline when trafilatura repeated it as the first line of the body, kicker and all.

    Args:
        text: Extracted body, lines separated by newlines.
        title: The article's title.

    Returns:
        The body without a first line that is just the title.
    """
    first, _, rest = text.partition("\n")
    first_words, title_words = text_words(first), text_words(title)
    if not (title_words and rest.strip() and first_words):
        return text
    # Headlines often come with a kicker in front ("Nach dem Gipfel: ..."), run together with the title.
    kicker = len(first_words) - len(title_words)
    if 0 <= kicker < HEADING_WORDS and first_words[kicker:] == title_words:
        return rest.lstrip("\n")
    return text


def _shingles(text: str, n: int = 4) -> set[tuple[str, ...]]:
    words = text_words(text)
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))} if words else set()


def cross_check_body(text: str, article_body: str | None, summary: str | None = None) -> str:
    """Drop extracted lines that the page's own JSON-LD ``articleBody`` does not contain.

    Only where ``articleBody`` is complete, i.e. it covers most of what was extracted: then a longer line
    missing from it is a caption, a "read more" teaser or a box, not the article. Short lines stay: they
    are sub-headings, which ``articleBody`` often leaves out.

    Args:
        text: Extracted body, one paragraph per line.
        article_body: The page's ``articleBody``, if any.
        summary: The page's description: a lede that repeats it belongs to the article even where
            ``articleBody`` leaves it out.

    Returns:
        The body, possibly with lines removed.
    """
    if not article_body or len(text_words(article_body)) < MIN_ARTICLE_WORDS:
        return text
    stated = _shingles(article_body)
    extracted = _shingles(text)
    if not extracted or len(extracted & stated) < COMPLETE_SHARE * len(extracted):
        return text
    stated |= _shingles(summary or "")
    kept = []
    for line in text.split("\n"):
        line_shingles = _shingles(line)
        long_line = len(text_words(line)) >= HEADING_WORDS
        if long_line and line_shingles and not line_shingles & stated:
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def trafilatura_text(tree: Any, url: str) -> str:
    """The body trafilatura's full pass finds in a page, metadata left unread ("" where none)."""
    document = trafilatura.bare_extraction(
        tree,  # bare_extraction works on a copy: the tree can be passed again
        url=url,
        with_metadata=False,  # read by the caller, only as far as the page's own metadata falls short
        include_comments=False,
        include_tables=True,
        include_images=False,
        deduplicate=False,
    )
    return (getattr(document, "text", None) or "").strip() if document is not None else ""


def embedded_article_html(tree: Any) -> str | None:
    """The article as an HTML string inside a page's inline script, for pages rendered in the browser.

    Single-page-app pages ship an empty ``<body>`` and the story as hydration data: a JSON string
    holding the article's HTML. The longest such string with several paragraphs is taken.

    Args:
        tree: The parsed page (lxml).

    Returns:
        The HTML fragment, or None where no script holds one.
    """
    best = ""
    for script in tree.iter("script"):
        code = script.text or ""
        # JSON-LD is read as metadata already; cheap test before the regex over a large script.
        if script.get("type") == "application/ld+json" or ("<p" not in code and "\\u003cp" not in code):
            continue
        for match in _JSON_STRING.finditer(code):
            try:
                value = json.loads(match.group(0))
            except ValueError:
                continue
            if (
                isinstance(value, str)
                and value.count("<p") >= EMBEDDED_MIN_PARAGRAPHS
                and len(value) > len(best)
            ):
                best = value
    return best or None


def extract_body(tree: Any, url: str, *, embedded: bool = True) -> str:
    """The article text of a (pruned) page: trafilatura's full pass, as plain trafilatura runs it.

    trafilatura's fast pass (its own extractor alone, without the readability/justext comparison) was tried
    first here for a while: it won a little on the pages it was tuned on and lost whole articles on pages
    of other publishers (`python -m bench.quality` measures each rule family per country). Where the full
    pass finds nothing, an article shipped as HTML inside a script is extracted instead.

    Args:
        tree: The parsed page, furniture already pruned; not changed.
        url: The page's URL.
        embedded: Look for an article inside a script where the pass found none.

    Returns:
        The body, one paragraph per line ("" where none was found).
    """
    text = trafilatura_text(tree, url)
    if embedded and len(text_words(text)) < MIN_ARTICLE_WORDS:
        found = embedded_article_html(tree)
        if found:
            fragment = load_html(f"<html><body><article>{found}</article></body></html>")
            if fragment is not None:
                inner = trafilatura_text(prune_furniture(fragment), url)
                if len(inner) > len(text):
                    text = inner
    return text


def reconcile_body(refined: str, reference: str) -> str:
    """The safety net under every step beyond trafilatura: a refinement may trim the article, never lose it.

    ``reference`` is trafilatura's own answer for the untouched page. News pages put the story in one
    block of running text, with menus, teasers and boxes around it; pruning and the other steps are meant
    to cut the boxes away, so what they return lies inside that block. Where most of the refined body is
    not in trafilatura's answer, and that answer is the longer one, the steps took another part of the page
    (a menu, a "scroll to top" strip): the article was pruned away, and trafilatura's answer is returned.

    Args:
        refined: The body after pruning, passes and cross-checks.
        reference: trafilatura's full pass on the unpruned page.

    Returns:
        ``refined``, or ``reference`` where the refinements lost the article.
    """
    if len(text_words(reference)) < MIN_ARTICLE_WORDS or len(text_words(reference)) <= len(
        text_words(refined)
    ):
        return refined
    mine = _shingles(refined)
    if mine and len(mine & _shingles(reference)) >= SAME_PART_SHARE * len(mine):
        return refined
    return reference
