from tasks.responses import charset_from_content_type


def test_charset_from_content_type():
    assert charset_from_content_type('text/html; charset="ISO-8859-1"') == "iso-8859-1"
    assert charset_from_content_type("text/html") is None
