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
