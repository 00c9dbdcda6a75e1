"""Wire-copy detection: MinHash fingerprints of article bodies and their grouping into stories."""

from __future__ import annotations

import functools
import hashlib
import re
import struct
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

# Words per shingle, chosen with `python -m bench.dedup --sweep`: at the threshold below, 3 to 6 words
# score within 0.003 of each other and 5 had the best pair (precision 1.000, recall 0.998 at 2,000
# articles); shorter shingles make stock phrases shared, longer ones lose more to each typo fix.
SHINGLE_SIZE = 5
# MinHash values per fingerprint: the Jaccard estimate's error is about ±0.04 near J = 0.3, small next
# to the benchmark's gap between copies (1st percentile containment 0.56, median 0.94) and distinct
# reports on the same event (99th percentile 0.41).
NUM_PERM = 128
# LSH: 64 bands of 2 values. Two articles become candidates when any band agrees, which happens with
# probability 1 - (1 - J²)^64: 0.93 at Jaccard 0.2 (a copy cut to a third), 0.99+ from 0.3 on, while
# unrelated texts (J < 0.01) collide in under 0.7 % of pairs.
BAND_ROWS = 2
BANDS = NUM_PERM // BAND_ROWS
# Below this many tokens (words, or characters of Chinese/Japanese script) a text gets no fingerprint:
# a teaser or a feed summary is mostly one or two sentences that distinct reports share (a quote, a
# dateline formula), so containment on it would merge what differs.
MIN_TOKENS = 50
# Estimated containment |A∩B| / min(|A|, |B|) of the shingle sets at or above which two articles are the
# same wire copy. Containment, not Jaccard: a copy cut to half its length has Jaccard 0.5 but
# containment 1.0. Chosen with the benchmark's sweep (see bench/dedup.py).
THRESHOLD = 0.5
# Copies of one wire story appear within hours, reruns within days; linking only articles at most a
# week apart keeps recurring template texts (weather, lottery numbers) from chaining into one
# months-long story, and lets the loader look candidates up in recent rows only.
WINDOW = timedelta(days=7)

_VERSION = 1
_HEADER = struct.Struct("<BBHI")  # format version, shingle size, number of values, distinct shingles
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Chinese and Japanese have no spaces between words, so each of their characters is a token; everything
# else is split into \w+ runs, which drops punctuation, quote marks and whitespace.
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")
_SHINGLE_MUL = np.uint64(0x9E3779B97F4A7C15)


def _seeded_uint64(label: str) -> int:
    """Derive a constant from blake2b: unlike a NumPy RNG stream it can never change between versions."""
    return int.from_bytes(hashlib.blake2b(label.encode(), digest_size=8).digest(), "little")


# Multiply-add-shift permutations h -> (a·h + b) mod 2^64 >> 32; stored fingerprints depend on them, so
# they are derived from fixed labels (changing them needs a new _VERSION and a rebuild).
_PERM_A = np.array([_seeded_uint64(f"wirehouse-minhash-a-{i}") | 1 for i in range(NUM_PERM)], dtype=np.uint64)
_PERM_B = np.array([_seeded_uint64(f"wirehouse-minhash-b-{i}") for i in range(NUM_PERM)], dtype=np.uint64)
_BAND_SALT = np.array([_seeded_uint64(f"wirehouse-band-{i}") for i in range(BANDS)], dtype=np.uint64)


@dataclass(frozen=True)
class FingerprintedArticle:
    """An article to group: its URL, when it appeared, and its body's fingerprint."""

    url: str
    seen_at: datetime  # published_at, else fetched_at
    fingerprint: bytes | None = field(repr=False)


@dataclass(frozen=True)
class StoredArticle:
    """An article already in the warehouse that shares a band key with the new batch."""

    url: str
    seen_at: datetime  # published_at, else fetched_at
    fingerprint: bytes | None = field(repr=False)
    story_id: str
    story_seen_at: datetime  # seen_at of the story's root (the article whose URL is story_id)


@dataclass(frozen=True)
class StoryAssignment:
    """What a batch does to the stories: the story of each new article, and stories renamed."""

    story_ids: dict[str, str]  # new url -> story_id
    # old story_id -> new story_id: the story got an earlier article or merged with an earlier story
    # through a new one, so every stored row with the old story_id must take the new one.
    renamed: dict[str, str]


# --------------------------------------------------------------------------- fingerprints


@functools.lru_cache(maxsize=1 << 17)
def _token_hash(token: str) -> int:
    """Hash a token to 64 bits (cached: news vocabulary repeats, and blake2b per token dominates)."""
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")


def tokenize(text: str) -> list[str]:
    """Split a text into case-folded tokens (NFKC first, so typographic variants of a letter agree).

    Args:
        text: Any text.

    Returns:
        Word-character runs, and single Chinese/Japanese characters, case-folded (ß becomes ss).
    """
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def _mix(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Scramble 64-bit values (the splitmix64 finaliser) so nearby inputs give unrelated outputs."""
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def shingle_hashes(text: str, shingle_size: int = SHINGLE_SIZE) -> npt.NDArray[np.uint64]:
    """Hash the distinct word shingles of a text.

    Args:
        text: Article body.
        shingle_size: Tokens per shingle.

    Returns:
        Sorted distinct 64-bit hashes; empty when the text has fewer tokens than a shingle.
    """
    return _hash_shingles(tokenize(text), shingle_size)


def _hash_shingles(tokens: Sequence[str], shingle_size: int) -> npt.NDArray[np.uint64]:
    """Hash the distinct shingles of a token list (see `shingle_hashes`)."""
    count = len(tokens) - shingle_size + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    ids = np.fromiter(map(_token_hash, tokens), dtype=np.uint64, count=len(tokens))
    hashes = ids[:count].copy()
    for offset in range(1, shingle_size):
        hashes = hashes * _SHINGLE_MUL + ids[offset : offset + count]  # wraps mod 2^64 by design
    return np.unique(_mix(hashes))


def fingerprint(text: str | None, *, shingle_size: int = SHINGLE_SIZE) -> bytes | None:
    """Compute the near-duplicate signature of an article body.

    Args:
        text: Article body.
        shingle_size: Tokens per shingle (only the benchmark changes it; fingerprints of different
            shingle sizes never match).

    Returns:
        8 header bytes (version, shingle size, number of values, distinct shingles) and NUM_PERM
        little-endian uint32 MinHash values (520 bytes); None when the text has fewer than MIN_TOKENS
        tokens, too short to judge.
    """
    tokens = tokenize(text or "")
    if len(tokens) < MIN_TOKENS:
        return None
    hashes = _hash_shingles(tokens, shingle_size)
    # One row per shingle, one column per permutation; the high 32 bits of a·h + b are the hash.
    permuted = (hashes[:, None] * _PERM_A[None, :] + _PERM_B[None, :]) >> np.uint64(32)
    minima: bytes = permuted.min(axis=0).astype("<u4").tobytes()
    return _HEADER.pack(_VERSION, shingle_size, NUM_PERM, len(hashes)) + minima


def _unpack(fp: bytes) -> tuple[int, int, npt.NDArray[np.uint32]]:
    """Split a fingerprint into (shingle size, distinct shingles, MinHash values).

    Raises:
        ValueError: Not a fingerprint of this version.
    """
    if len(fp) != _HEADER.size + 4 * NUM_PERM:
        raise ValueError(f"fingerprint has {len(fp)} bytes, expected {_HEADER.size + 4 * NUM_PERM}")
    version, shingle_size, num_perm, shingles = _HEADER.unpack_from(fp)
    if version != _VERSION or num_perm != NUM_PERM:
        raise ValueError(f"fingerprint version {version}/{num_perm} values, expected {_VERSION}/{NUM_PERM}")
    return shingle_size, shingles, np.frombuffer(fp, dtype="<u4", offset=_HEADER.size)


def _containment(agree: int, size_a: int, size_b: int) -> float:
    """Estimate |A∩B| / min(|A|, |B|) from the share of agreeing MinHash values (the Jaccard estimate)."""
    jaccard = agree / NUM_PERM
    # |A∩B| = J·(|A| + |B|) / (1 + J), from J = |A∩B| / (|A| + |B| - |A∩B|).
    return min(1.0, jaccard * (size_a + size_b) / ((1.0 + jaccard) * min(size_a, size_b)))


def similarity(a: bytes, b: bytes) -> float:
    """Estimate how much of the shorter body the other contains (1.0: all of it).

    Args:
        a: A fingerprint.
        b: Another fingerprint.

    Returns:
        Estimated containment of the shingle sets; 0.0 for fingerprints of different shingle sizes.
    """
    size_a, count_a, values_a = _unpack(a)
    size_b, count_b, values_b = _unpack(b)
    if size_a != size_b:
        return 0.0
    return _containment(int(np.count_nonzero(values_a == values_b)), count_a, count_b)


def _band_keys(values: npt.NDArray[np.uint32], shingle_sizes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Band keys of MinHash value rows: shape (n, NUM_PERM) -> (n, BANDS), as signed 64-bit for SQL.

    The shingle size is mixed in so that fingerprints that can never match do not collide either.
    """
    bands = values.astype(np.uint64).reshape(len(values), BANDS, BAND_ROWS)
    keys = _BAND_SALT[None, :] ^ shingle_sizes.astype(np.uint64)[:, None]
    for row in range(BAND_ROWS):
        keys = _mix(keys * _SHINGLE_MUL + bands[:, :, row])
    return keys.view(np.int64)


def band_keys(fp: bytes | None) -> list[int]:
    """Return the LSH band keys of a fingerprint, for the warehouse's `story_keys` table.

    Args:
        fp: A fingerprint, or None.

    Returns:
        BANDS signed 64-bit keys (DuckDB BIGINT); empty for None. Articles that may be copies of
        each other share at least one key.
    """
    if fp is None:
        return []
    shingle_size, _, values = _unpack(fp)
    keys: list[int] = _band_keys(values[None, :], np.array([shingle_size]))[0].tolist()
    return keys


# --------------------------------------------------------------------------- grouping


class _Components:
    """Union-find over article indices; each component remembers its earliest (time, url)."""

    def __init__(self, roots: Sequence[tuple[float, str]]) -> None:
        self.parent = list(range(len(roots)))
        self.best = list(roots)

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]  # path halving keeps trees flat
            item = self.parent[item]
        return item

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[root_b] = root_a
            self.best[root_a] = min(self.best[root_a], self.best[root_b])


def assign_stories(
    batch: Sequence[FingerprintedArticle],
    stored: Sequence[StoredArticle] = (),
    *,
    threshold: float = THRESHOLD,
    window: timedelta | None = WINDOW,
) -> StoryAssignment:
    """Assign story_ids to a new batch, given the stored articles that share a band key with it.

    Two articles are linked when they share an LSH band key, appeared at most ``window`` apart, and
    their estimated containment is at least ``threshold``; a story is a connected group of links
    (single linkage), and its id is the URL of its earliest article (by ``seen_at``, then URL).
    Stored stories are taken as settled: two of them only merge through a new article linked to both.
    Loading batch after batch this way gives exactly the stories of `group_stories` on all of them,
    provided ``stored`` holds every stored article sharing a band key with the batch within the window.

    Args:
        batch: The new articles (a stored article with the same URL is replaced by the new one).
        stored: Candidates from the warehouse, with their story and its root's time.
        threshold: Minimum estimated containment for a link.
        window: Maximum time between linked articles; None for no limit.

    Returns:
        The story_id of every article of the batch, and the stored stories that must be renamed.
    """
    new_urls = {a.url for a in batch}
    kept = [s for s in stored if s.url not in new_urls]
    items: list[FingerprintedArticle | StoredArticle] = [*batch, *kept]
    roots = [(a.seen_at.timestamp(), a.url) for a in batch] + [
        (s.story_seen_at.timestamp(), s.story_id) for s in kept
    ]
    components = _Components(roots)
    first_of_story: dict[str, int] = {}
    for index, member in enumerate(kept, start=len(batch)):
        components.union(first_of_story.setdefault(member.story_id, index), index)
    _link(items, len(batch), components, threshold, window)

    story_ids = {a.url: components.best[components.find(i)][1] for i, a in enumerate(batch)}
    renamed: dict[str, str] = {}
    for story_id, index in first_of_story.items():
        root_url = components.best[components.find(index)][1]
        if root_url != story_id:
            renamed[story_id] = root_url
    return StoryAssignment(story_ids=story_ids, renamed=renamed)


def group_stories(
    records: Iterable[FingerprintedArticle],
    *,
    threshold: float = THRESHOLD,
    window: timedelta | None = WINDOW,
) -> dict[str, str]:
    """Group articles into stories from scratch (a full rebuild, or the benchmark).

    Args:
        records: Every article to group; articles without a fingerprint stay alone.
        threshold: Minimum estimated containment for a link.
        window: Maximum time between linked articles; None for no limit.

    Returns:
        story_id per URL: the URL of the earliest article of its group.
    """
    return assign_stories(list(records), threshold=threshold, window=window).story_ids


def _link(
    items: Sequence[FingerprintedArticle | StoredArticle],
    new_count: int,
    components: _Components,
    threshold: float,
    window: timedelta | None,
) -> None:
    """Union every pair of items that share a band key and pass the window and containment checks.

    Items before ``new_count`` are new; pairs of two stored items are never checked (settled before).
    """
    usable = [i for i, item in enumerate(items) if item.fingerprint is not None]
    if len(usable) < 2:
        return
    unpacked = [_unpack(items[i].fingerprint or b"") for i in usable]
    shingle_sizes = np.array([u[0] for u in unpacked], dtype=np.int64)
    counts = [u[1] for u in unpacked]
    values = np.stack([u[2] for u in unpacked])
    times = [items[i].seen_at.timestamp() for i in usable]
    max_gap = None if window is None else window.total_seconds()
    is_new = [i < new_count for i in usable]

    flat_keys = _band_keys(values, shingle_sizes).ravel()
    owners = np.repeat(np.arange(len(usable)), BANDS)
    order = np.argsort(flat_keys, kind="stable")
    flat_keys, owners = flat_keys[order], owners[order]
    # Runs of equal keys are the LSH buckets; nearly all keys are unique, so only the runs are visited.
    starts = np.flatnonzero(np.r_[True, flat_keys[1:] != flat_keys[:-1]])
    ends = np.r_[starts[1:], len(flat_keys)]
    checked: set[tuple[int, int]] = set()

    def linked(a: int, b: int) -> bool:
        """Check one pair (each pair once, whatever number of buckets it shares)."""
        pair = (a, b) if a < b else (b, a)
        if pair in checked:
            return False
        checked.add(pair)
        if not (is_new[a] or is_new[b]) or shingle_sizes[a] != shingle_sizes[b]:
            return False
        if max_gap is not None and abs(times[a] - times[b]) > max_gap:
            return False
        agree = int(np.count_nonzero(values[a] == values[b]))
        return _containment(agree, counts[a], counts[b]) >= threshold

    for start, end in zip(starts[ends - starts > 1], ends[ends - starts > 1], strict=True):
        members = sorted(set(owners[start:end].tolist()))
        # Members grouped by component: a new member is tried against each other component until one
        # member of it links, so a bucket of many identical texts costs one check per member.
        groups: dict[int, list[int]] = {}
        for member in members:
            for root, others in list(groups.items()):
                if root == components.find(usable[member]):
                    continue
                for other in others:
                    if linked(other, member):
                        components.union(usable[other], usable[member])
                        break
            merged: dict[int, list[int]] = {}
            for others in groups.values():
                merged.setdefault(components.find(usable[others[0]]), []).extend(others)
            merged.setdefault(components.find(usable[member]), []).append(member)
            groups = merged
