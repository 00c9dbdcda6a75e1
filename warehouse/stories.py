"""Stories: wire copies grouped by fingerprint, looked up by LSH band key among stored articles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import duckdb
import pyarrow as pa

from core.records import Article
from tasks import wirecopy
from warehouse import keys as key_index
from warehouse.connection import execute_with

_TS = pa.timestamp("us", tz="UTC")

_RENAME_STORIES = """
UPDATE article_store SET story_id = r.new_story_id
FROM story_renames r WHERE article_store.story_id = r.old_story_id
"""
_DELETE_KEYS = "DELETE FROM story_keys WHERE list_contains(?, url)"
_INSERT_KEYS = "INSERT INTO story_keys BY NAME (SELECT * FROM key_batch)"


def assign_story_ids(
    con: duckdb.DuckDBPyConnection, articles: Sequence[Article], index: Path | key_index.KeyIndex
) -> tuple[list[Article], pa.Table, dict[str, str]]:
    """Give each article its wire-copy ``story_id``, looking up stored candidates by LSH band key.

    Args:
        con: A connection inside the batch's transaction.
        articles: The articles about to be written.
        index: The key index (open, or its file), caught up with the transaction's snapshot.

    Returns:
        The articles with ``story_id`` set, their band-key rows for ``story_keys``, and the stored
        stories to rename (old story_id -> new) because the batch holds an earlier copy or a bridge.
    """
    fresh = [
        wirecopy.FingerprintedArticle(a.url, a.published_at or a.fetched_at, a.fingerprint) for a in articles
    ]
    keys = [(key, r.url, r.seen_at) for r in fresh for key in wirecopy.band_keys(r.fingerprint)]
    stored: list[wirecopy.StoredArticle] = []
    if keys:
        low = min(r.seen_at for r in fresh) - wirecopy.WINDOW
        high = max(r.seen_at for r in fresh) + wirecopy.WINDOW
        # From the key index's band keys, not the lake's story_keys: a B-tree lookup per key, where
        # story_keys (no index) would be read in every file whose time range meets the window.
        band = [k for k, _, _ in keys]
        if isinstance(index, Path):
            stored = key_index.candidates(index, band, low, high)
        else:
            stored = index.candidates(band, low, high)
    result = wirecopy.assign_stories(fresh, stored)
    assigned = [replace(a, story_id=result.story_ids.get(a.url, a.url)) for a in articles]
    key_rows = pa.table(
        {
            "band_key": pa.array([k for k, _, _ in keys], pa.int64()),
            "url": pa.array([u for _, u, _ in keys], pa.string()),
            "seen_at": pa.array([t for _, _, t in keys], _TS),
        }
    )
    return assigned, key_rows, result.renamed


def renames_table(renamed: dict[str, str]) -> pa.Table:
    """Build the Arrow table of story renames.

    Args:
        renamed: Old story_id to new story_id.

    Returns:
        A table of (old_story_id, new_story_id).
    """
    return pa.table(
        {
            "old_story_id": pa.array(list(renamed), pa.string()),
            "new_story_id": pa.array(list(renamed.values()), pa.string()),
        }
    )


def store_story_keys(
    con: duckdb.DuckDBPyConnection, keys: pa.Table, renamed: dict[str, str], renewed: Sequence[str] = ()
) -> None:
    """Rename merged stories and store the band keys of a batch's articles (inside its transaction).

    Args:
        con: A connection inside the batch's transaction.
        keys: Band-key rows from :func:`assign_story_ids`.
        renamed: Old story_id to new story_id.
        renewed: Stored articles the batch replaces: their old keys go first. A new article has none,
            so a batch of new articles deletes nothing (a DELETE reads the whole table).
    """
    execute_with(con, "story_renames", renames_table(renamed), _RENAME_STORIES)
    if renewed:
        con.execute(_DELETE_KEYS, [list(renewed)])
    execute_with(con, "key_batch", keys, _INSERT_KEYS)
