"""Raw HTML storage format: pages are kept zstd-compressed in ``raw_pages`` for re-processing.

Rows written before the switch to zstd hold zlib streams; their ``compression`` column says so, and
they are read back as they are (a re-processing stores its pages again, then in zstd).
"""

from __future__ import annotations

import zlib

import zstandard

# The `compression` column's value for this format.
COMPRESSION = "zstd"
ZLIB = "zlib"  # the format up to 0.1.0, still read
# Measured by `make bench-rawhtml` on 567 corpus pages (153 KB on average; docs/storage.md): in a lake
# zstd-3 takes 30.0 KB a page against 33.9 KB for zlib-3 (the former format), and is 2.8 times faster to
# compress (0.52 against 1.44 ms) and 3.6 times faster to read back (0.12 against 0.43 ms). Both are paid
# by the CPU stage, which bounds an ingest, and by every re-processing (it reads each page and stores
# it again). zstd-9 saves another 9 % of disk (27.4 KB) for 4 times the compression time, zstd-19 13 %
# for 160 times; dictionaries (shared or per host) 4-9 % for training and keeping them.
LEVEL = 3
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def compress_html(html: bytes) -> bytes:
    """Compress a page as served for ``raw_pages``.

    Args:
        html: The page's bytes.

    Returns:
        The zstd frame (it records the page's size).
    """
    return zstandard.ZstdCompressor(level=LEVEL).compress(html)


def codec_of(stored: bytes) -> str:
    """Tell the ``compression`` value of bytes :func:`compress_html` wrote, now or before the switch to zstd.

    A batch staged on a shared lake by an older wirehouse holds zlib streams; its rows are labelled by
    what they hold, not by what this version writes.
    """
    return COMPRESSION if stored[:4] == _ZSTD_MAGIC else ZLIB


def decompress_html(stored: bytes, compression: str | None) -> bytes:
    """Read a page back from ``raw_pages``.

    Args:
        stored: The ``html`` column.
        compression: The ``compression`` column (``zstd``, ``zlib``, or None for a page stored as is).

    Returns:
        The page's bytes as served.

    Raises:
        ValueError: An unknown ``compression`` value (a newer wirehouse's format).
    """
    if compression == COMPRESSION:
        return zstandard.ZstdDecompressor().decompress(stored)
    if compression == ZLIB:
        return zlib.decompress(stored)
    if compression is None:
        return bytes(stored)
    raise ValueError(f"raw HTML in an unknown format {compression!r}")
