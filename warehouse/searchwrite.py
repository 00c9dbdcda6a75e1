"""The search index's writer: every stored batch is added, and the index catches up from a mark.

Inside a run (:func:`deferred_commits`, entered by the run scope) one writer stays open: each batch only
adds its documents, and the writer commits every ``COMMIT_SECONDS`` and when the run scope ends. A
commit writes and syncs a segment and a tantivy writer dropped right after its commit abandons its
merges, so committing (and waiting for the merges) once per batch cost the flow's process more than any
statement of the batch (``python -m bench.store --ref main`` shows it by step).

The index knows how far it is: a mark file beside it holds the lake snapshot through which every
article change is in the index's last commit. It is written only after that commit, so a process
killed at any moment leaves a mark that lags, never one that runs ahead. Every run scope and every
``wirehouse search`` catches the index up from the mark with DuckLake's change feed
(:func:`catch_up_search_index`); its cost follows what changed since, not the warehouse. An index of
an older schema counts as none: the first writer removes it, and the catch-up rebuilds it.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import tantivy

from core.records import Article
from tasks.search import SearchError, SearchIndexStats
from warehouse.faults import storage_full, storage_full_error
from warehouse.searchschema import index_document, index_exists, index_stemmer, is_outdated, open_index

_WRITER_HEAP = 32_000_000
# One writer per index in a process; another process waits on tantivy's own lock file.
_WRITE_LOCK = threading.Lock()
_WRITER_WAIT = 120.0  # seconds to wait for another process's writer (a shared catalog's other ingest)
# A run's held writer commits at least this often, so `wirehouse search` during a run lags by at most this
# much; what a run killed outright had not committed is caught up by the next run or search.
COMMIT_SECONDS = 30.0


@dataclass
class _HeldWriter:
    """The writer a run keeps open on one index folder (see :func:`deferred_commits`)."""

    folder: Path
    depth: int  # nested run scopes using it
    writer: Any = None  # opened by the first batch that needs it
    pending: bool = False  # documents added or deleted since the last commit
    committed_at: float = 0.0
    # The lake snapshot through which every article change is in the writer (committed or not); None
    # once a change may be missing (an index update that failed, a batch stored without its snapshot):
    # the mark then stays where it was, and the next catch-up takes the rest.
    through: int | None = None


_HELD: dict[Path, _HeldWriter] = {}  # by absolute folder; guarded by _WRITE_LOCK

_OK_ARTICLES = """
SELECT url, title, text, language, coalesce(published_at, fetched_at)
FROM articles WHERE extraction_status = 'ok'
"""
_OK_COUNT = "SELECT count(*) FROM articles WHERE extraction_status = 'ok'"


def _discard(folder: Path, wait: float) -> None:
    """Remove an outdated index and its mark once nobody writes it; without a mark the catch-up rebuilds."""
    _take_writer(tantivy.Index.open(str(folder)), folder, wait).wait_merging_threads()  # releases the lock
    try:
        shutil.rmtree(folder)
    except OSError as exc:
        raise SearchError(f"cannot replace the outdated search index {folder}: {exc}") from exc
    held = _HELD.get(folder.absolute())
    if held is not None:
        held.through = None  # what it continued from is gone with the old index


def _new_writer(folder: Path, wait: float = _WRITER_WAIT) -> Any:
    """Open the index and take its writer, waiting up to ``wait`` seconds for another process's writer.

    An outdated index is removed first (see :func:`_discard`); callers hold ``_WRITE_LOCK``.
    """
    if is_outdated(folder):
        _discard(folder, wait)
    return _take_writer(open_index(folder, create=True), folder, wait)


def _take_writer(index: Any, folder: Path, wait: float) -> Any:
    deadline = time.monotonic() + wait
    while True:
        try:
            return index.writer(heap_size=_WRITER_HEAP, num_threads=1)
        except ValueError as exc:  # tantivy's lock file: another process is writing
            if time.monotonic() >= deadline:
                raise SearchError(f"the search index {folder} is being written by another process") from exc
            time.sleep(0.1)


def _commit(held: _HeldWriter) -> None:
    try:
        held.writer.commit()
    except ValueError as exc:  # tantivy's errors are all ValueError
        if storage_full(exc):
            raise storage_full_error(exc) from exc
        raise
    held.pending = False
    held.committed_at = time.monotonic()
    if held.through is not None:  # after the commit: a kill in between leaves the mark behind, not ahead
        _write_mark(held.folder, held.through)


@contextmanager
def _writer(folder: Path, *, commit: bool = True, wait: float = _WRITER_WAIT) -> Iterator[Any]:
    """A writer for one change: the run's held writer if there is one, else a writer of its own.

    A writer of its own commits and waits for its merges at the end. The held writer commits when
    ``commit`` is set or ``COMMIT_SECONDS`` have passed since its last commit, and merges in the
    background meanwhile. On an error the uncommitted changes are rolled back (for a held writer:
    all of them since its last commit; the writer is then closed).
    """
    with _WRITE_LOCK:
        held = _HELD.get(folder.absolute())
        if held is None:
            writer = _new_writer(folder, wait)
            try:
                yield writer
            except BaseException:
                writer.rollback()
                raise
            writer.commit()
            writer.wait_merging_threads()
            return
        if held.writer is None:
            held.writer = _new_writer(folder)
            held.committed_at = time.monotonic()
        try:
            yield held.writer
        except BaseException:
            writer, held.writer, held.pending = held.writer, None, False
            held.through = None  # the rollback dropped documents of batches the lake has stored
            writer.rollback()
            writer.wait_merging_threads()
            raise
        held.pending = True
        if commit or time.monotonic() - held.committed_at >= COMMIT_SECONDS:
            _commit(held)


@contextmanager
def deferred_commits(folder: Path) -> Iterator[None]:
    """Keep one index writer open for a run: batches add documents, commits come every ``COMMIT_SECONDS``.

    Re-entrant (a flow's scope inside the CLI's): leaving any level commits what is pending, so what a
    run stored is found when it ends; leaving the outermost also waits for the merges and closes the
    writer, releasing tantivy's lock for the next run. Ends with a commit even when the block raised:
    the articles the lake committed are in the index too.

    Args:
        folder: The index folder.

    Yields:
        Nothing; :func:`index_articles` on ``folder`` uses the held writer inside the block.
    """
    key = folder.absolute()
    with _WRITE_LOCK:
        held = _HELD.get(key)
        if held is None:
            # The run scope caught the index up just before: batches continue from its mark.
            held = _HELD[key] = _HeldWriter(folder=key, depth=0, through=_read_mark(key))
        held.depth += 1
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        with _WRITE_LOCK:
            held.depth -= 1
            try:
                if held.writer is not None and held.pending:
                    _commit(held)
            except Exception:
                # The block's own error (a full disk, say) is the one to report; the mark stays behind,
                # so the next run's catch-up indexes what this commit could not.
                if not failed:
                    raise
            finally:
                if held.depth == 0:
                    del _HELD[key]
                    if held.writer is not None:
                        held.writer.wait_merging_threads()


def index_articles(folder: Path, articles: Sequence[Article], snapshot: int | None = None) -> int:
    """Bring the index up to date with stored articles: each replaces its URL's document (if any).

    Articles whose extraction did not succeed are removed from the index, as they are from search.
    Inside :func:`deferred_commits` the change is committed with the run's next commit; otherwise now.

    Args:
        folder: The index folder.
        articles: Articles just stored.
        snapshot: The lake snapshot that stored them, when the caller knows that no other article
            change came between it and the previous call's (one writer, batches in commit order):
            the run's next commit then marks the index caught up through it.

    Returns:
        Documents added.
    """
    if not articles:
        with _WRITE_LOCK:
            _advance(folder, snapshot)
        return 0
    # Documents are built before the writer is touched: a failure here leaves the held writer as it was.
    documents = [
        (
            article.url,
            index_document(
                article.url,
                article.title,
                article.text,
                article.language,
                article.published_at or article.fetched_at,
            )
            if article.extraction_status == "ok"
            else None,
        )
        for article in articles
    ]
    with _writer(folder, commit=False) as writer:
        for url, document in documents:
            writer.delete_documents_by_term("url", url)
            if document is not None:
                writer.add_document(document)
        _advance(folder, snapshot)
    return sum(1 for _, document in documents if document is not None)


def index_gap(folder: Path) -> None:
    """Note that stored articles may be missing from the run's held writer: its mark stops advancing."""
    with _WRITE_LOCK:
        held = _HELD.get(folder.absolute())
        if held is not None:
            held.through = None


def _advance(folder: Path, snapshot: int | None) -> None:
    """Record in the run's held writer that the lake's article changes through ``snapshot`` are in it."""
    held = _HELD.get(folder.absolute())
    if held is None or held.through is None:
        return  # no run holds the writer (its own commit leaves the mark behind), or a change is missing
    if snapshot is None:
        held.through = None  # a batch whose snapshot is unknown: nothing later may be marked either
    else:
        held.through = max(held.through, snapshot)


def build_search_index(con: duckdb.DuckDBPyConnection, folder: Path) -> SearchIndexStats:
    """Rebuild the index from every extracted article (repairs an index lost or damaged).

    Args:
        con: A connection (read-only is fine).
        folder: The index folder.

    Returns:
        Documents indexed, per stemmer, and the seconds it took.
    """
    started = time.perf_counter()
    with _writer(folder) as writer:
        counts = _fill(con, writer)
    return SearchIndexStats(sum(counts.values()), dict(sorted(counts.items())), time.perf_counter() - started)


def _fill(con: duckdb.DuckDBPyConnection, writer: Any) -> Counter[str]:
    """Replace everything in the index with every extracted article; documents per stemmer."""
    counts: Counter[str] = Counter()
    writer.delete_all_documents()
    cursor = con.execute(_OK_ARTICLES)
    while rows := cursor.fetchmany(1000):
        for url, title, text, language, seen in rows:
            writer.add_document(index_document(url, title, text, language, seen))
            counts[index_stemmer(language)] += 1
    return counts


def sync_search_index(con: duckdb.DuckDBPyConnection, folder: Path) -> SearchIndexStats:
    """Catch the index up, then rebuild it if it still does not hold exactly the extracted articles.

    Args:
        con: A connection (read-only is fine).
        folder: The index folder.

    Returns:
        Documents in the index; ``by_stemmer`` is filled only when it was rebuilt.
    """
    started = time.perf_counter()
    current = current_snapshot(con)
    catch_up_search_index(con, folder)
    wanted = _ok_count(con)
    index = open_index(folder, create=False)
    index.reload()
    if index.searcher().num_docs == wanted:
        return SearchIndexStats(wanted, {}, time.perf_counter() - started)
    stats = build_search_index(con, folder)  # a document too many or too few: the index was damaged
    _write_mark(folder, current)
    return stats


# ----------------------------------------------------------------------------- catching up
# The index remembers the lake snapshot it has caught up with (the mark), and catches up from DuckLake's
# change feed: on a shared lake that takes what other machines merged; on any lake, what a run killed
# outright had stored but not committed to the index. Its cost grows with what changed since.
_MARK_FILE = "wirehouse-snapshot"
_CURRENT_SNAPSHOT = "SELECT id FROM news.current_snapshot()"
# Deletes too: a URL whose last change in the range is a delete leaves the index. An update's pre- and
# post-image share a snapshot; the post-image is read after it.
_CHANGES = """
SELECT url, title, text, language, coalesce(published_at, fetched_at), extraction_status, change_type
FROM news.table_changes('article_store', ?, ?)
WHERE change_type IN ('insert', 'update_postimage', 'delete')
ORDER BY snapshot_id, change_type = 'delete' DESC, rowid
"""
_CHANGED_URLS = """
SELECT url, arg_max(extraction_status = 'ok' AND change_type <> 'delete',
                    (snapshot_id, change_type <> 'delete'))
FROM news.table_changes('article_store', ?, ?)
WHERE change_type IN ('insert', 'update_postimage', 'delete')
GROUP BY url
"""


def _read_mark(folder: Path) -> int | None:
    try:
        return int((folder / _MARK_FILE).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def _write_mark(folder: Path, snapshot: int) -> None:
    temporary = folder / (_MARK_FILE + ".tmp")
    temporary.write_text(str(snapshot), encoding="ascii")
    temporary.replace(folder / _MARK_FILE)  # atomic: a reader never sees half a number


def current_snapshot(con: duckdb.DuckDBPyConnection) -> int:
    """The lake's newest snapshot id (what a mark is compared with)."""
    row = con.execute(_CURRENT_SNAPSHOT).fetchone()
    return int(row[0]) if row else 0


def _ok_count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute(_OK_COUNT).fetchone()
    return int(row[0]) if row else 0


def catch_up_search_index(con: duckdb.DuckDBPyConnection, folder: Path, *, wait: float = _WRITER_WAIT) -> int:
    """Bring an index up to date with every article change since it last caught up.

    The first time (or when the snapshots it would read from have expired) the index is rebuilt.

    Args:
        con: A connection to the lake (read-only is fine).
        folder: The index folder.
        wait: Seconds to wait for another process's writer (0: fail at once when it is busy).

    Returns:
        Articles (re-)indexed or removed.

    Raises:
        SearchError: The index cannot be written (busy, read-only, damaged).
    """
    current = current_snapshot(con)
    mark = _read_mark(folder)
    exists = index_exists(folder)
    if mark is not None and exists and mark >= current:
        return 0
    rows: list[tuple[Any, ...]] | None = None
    if mark is not None and exists:
        try:
            rows = con.execute(_CHANGES, [mark + 1, current]).fetchall()
        except duckdb.Error:  # the snapshots since the mark expired: rebuild instead
            rows = None
    if rows is None:
        with _writer(folder, wait=wait) as writer:
            counts = _fill(con, writer)  # reads a snapshot at least as new as `current`
            _caught_up(folder, current)
        _write_mark(folder, current)
        return sum(counts.values())
    with _writer(folder, wait=wait) as writer:
        for url, title, text, language, seen, status, change in rows:
            writer.delete_documents_by_term("url", url)
            if status == "ok" and change != "delete":
                writer.add_document(index_document(url, title, text, language, seen))
        _caught_up(folder, current)
    _write_mark(folder, current)
    return len(rows)


def _caught_up(folder: Path, snapshot: int) -> None:
    """Inside the writer: a run's held writer now holds every change through ``snapshot``."""
    held = _HELD.get(folder.absolute())
    if held is not None and held.writer is not None:
        held.through = snapshot if held.through is None else max(held.through, snapshot)


def search_lag(con: duckdb.DuckDBPyConnection, folder: Path) -> int:
    """Count the extracted articles the index does not hold yet (0 when it is up to date).

    Args:
        con: A connection to the lake (read-only is fine).
        folder: The index folder.

    Returns:
        Stored, extracted articles that a search cannot find yet.
    """
    current = current_snapshot(con)
    mark = _read_mark(folder)
    if not index_exists(folder):
        return _ok_count(con)
    index = open_index(folder, create=False)
    index.reload()
    searcher = index.searcher()
    if mark is None:
        return max(0, _ok_count(con) - int(searcher.num_docs))
    if mark >= current:
        return 0
    try:
        changed = con.execute(_CHANGED_URLS, [mark + 1, current]).fetchall()
    except duckdb.Error:  # the snapshots since the mark expired: compare counts instead
        return max(0, _ok_count(con) - int(searcher.num_docs))
    schema = index.schema
    return sum(
        1
        for url, findable in changed
        if findable and searcher.search(tantivy.Query.term_query(schema, "url", url), 1).count == 0
    )
