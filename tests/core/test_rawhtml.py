"""Raw HTML storage format: compressed and read back byte for byte."""

from __future__ import annotations

from core.rawhtml import COMPRESSION, compress_html, decompress_html


def test_a_page_comes_back_byte_for_byte():
    page = (
        "<html><body><p>Grüße aus Brüssel – «Zitat»</p></body></html>".encode("iso-8859-15", "replace") * 50
    )
    stored = compress_html(page)
    assert len(stored) < len(page) / 5
    assert decompress_html(stored, COMPRESSION) == page


def test_an_uncompressed_row_is_read_as_is():
    assert decompress_html(b"<html>as is</html>", None) == b"<html>as is</html>"


def test_new_rows_are_zstd_and_rows_of_the_zlib_format_still_read_back():
    import zlib

    from core.rawhtml import ZLIB, codec_of

    page = b"<html><body><p>Nato-Verteidigungsminister in Br\xc3\xbcssel</p></body></html>" * 40
    stored = compress_html(page)
    assert COMPRESSION == "zstd" and codec_of(stored) == "zstd"
    old = zlib.compress(page, 3)  # what wirehouse 0.1 wrote, labelled "zlib"
    assert codec_of(old) == ZLIB == "zlib"
    assert decompress_html(old, ZLIB) == page
    assert decompress_html(stored, COMPRESSION) == page


def test_an_unknown_format_is_an_error_not_garbage():
    import pytest

    with pytest.raises(ValueError, match="unknown format 'brotli'"):
        decompress_html(b"\x00\x01", "brotli")
