from tasks.charsets import decode_html


def test_decode_html_charset_order():
    text = "<p>Grüße aus Köln</p>"
    assert decode_html(text.encode("utf-8")) == text
    assert decode_html(text.encode("latin-1"), "iso-8859-1") == text
    meta = '<meta charset="windows-1252"><p>Grüße</p>'
    assert decode_html(meta.encode("cp1252")) == meta
    # header says utf-8 but bytes are latin-1: must not raise, falls through to a decodable charset
    assert "Gr" in decode_html(text.encode("latin-1"), "utf-8")
    assert decode_html(b"\xef\xbb\xbf" + text.encode()) == text
    assert decode_html(text.encode(), "no-such-charset") == text


def test_valid_utf8_beats_a_stale_meta_charset():
    text = '<meta charset="iso-8859-1"><p>Grüße</p>'
    assert decode_html(text.encode("utf-8")) == text
