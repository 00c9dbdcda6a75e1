import pytest

from tasks.agencies import AGENCIES, PRESS_RELEASE, PRESS_RELEASE_WIRES, agency_code


@pytest.mark.parametrize(
    ("name", "code"),
    [
        # codes as agencies write them, title-cased as trafilatura writes bylines, and full names
        ("AFP", "afp"),
        ("afp", "afp"),
        ("Reuters", "reuters"),
        ("REUTERS", "reuters"),
        ("rtr", "reuters"),
        ("Dpa", "dpa"),
        ("Lusa", "lusa"),
        ("Associated Press", "ap"),
        ("The Associated Press", "ap"),
        ("Agence France-Presse", "afp"),
        ("Deutsche Presse-Agentur", "dpa"),
        ("Deutsche Presse Agentur", "dpa"),
        ("Keystone-SDA", "sda"),
        ("ATS", "sda"),
        ("Anadolu Ajansı", "aa"),
        ("ANADOLU AJANSI", "aa"),
        ("(dpa)", "dpa"),
        ("  Europa   Press ", "europapress"),
        # dpa-AFX is a company of its own; regional dpa services are dpa
        ("dpa-AFX", "dpa-afx"),
        ("AFX", "dpa-afx"),
        ("dpa-AFX Analyser", "dpa-afx"),
        ("dpa-infocom", "dpa"),
        ("dpa-lnw", "dpa"),
        # an agency in its own spelling followed by the name of one of its services
        ("AFP Deutschland", "afp"),
        ("Reuters Deutschland", None),  # title-cased: could be a person's first name
        ("AFP Agence France", None),  # more than one word after it
        # two-letter codes and codes that are also given names only as agencies write them
        ("SID", "sid"),
        ("sid", "sid"),
        ("Sid", None),
        ("Sid Meier", None),
        ("EFE", "efe"),
        ("Efe", None),
        ("Tass", None),
        ("TASS", "tass"),
        ("AP", "ap"),
        ("Ap", None),
        ("TT", "tt"),
        ("Aa", None),
        # press-release wires are reported distinctly, never as an agency
        ("ots", PRESS_RELEASE),
        ("APA-OTS", PRESS_RELEASE),
        ("pressetext", PRESS_RELEASE),
        # no agency
        ("Berlin", None),
        ("Anna Beispiel", None),
        ("", None),
        ("()", None),
    ],
)
def test_agency_code(name, code):
    assert agency_code(name) == code


def test_table_holds_lower_case_codes_and_keys():
    assert all(key == key.casefold() and key == " ".join(key.split()) for key in AGENCIES)
    assert all(code == code.lower() and " " not in code for code in AGENCIES.values())
    assert not PRESS_RELEASE_WIRES & AGENCIES.keys()
    assert PRESS_RELEASE not in AGENCIES.values()


def test_every_name_in_the_table_is_read_in_agency_spelling():
    for key, code in AGENCIES.items():
        assert agency_code(key) == code
        assert agency_code(key.upper()) == code or key.upper().casefold() != key
