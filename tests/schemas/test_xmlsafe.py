"""hub.core.xmlsafe.parse_xml: limits, codes and positions (pure, no schema)."""

from __future__ import annotations

import pytest
from lxml import etree

from hub.core.xmlsafe import LIBXML2_MAX_DEPTH, Limits, parse_xml
from hub.errors import ParseError


def _code(data: bytes, limits: Limits = Limits()) -> str:  # noqa: B008 - frozen dataclass
    with pytest.raises(ParseError) as exc:
        parse_xml(data, limits)
    return exc.value.code


def test_well_formed_document_parses_to_its_root() -> None:
    root = parse_xml(b'<?xml version="1.0"?><a xmlns="urn:x"><b>1</b></a>')
    assert root.tag == "{urn:x}a"
    assert root[0].text == "1"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_documents_parse(encoding: str) -> None:
    text = '<?xml version="1.0" encoding="UTF-16"?><a>Ärger ß</a>'
    data = text.encode(encoding)
    if encoding != "utf-16":
        data = ("\ufeff" + text).encode(encoding)  # with BOM in the given byte order
    assert parse_xml(data).text == "Ärger ß"


def test_latin1_declared_document_parses() -> None:
    data = '<?xml version="1.0" encoding="ISO-8859-1"?><a>Müller</a>'.encode("latin-1")
    assert parse_xml(data).text == "Müller"


def test_size_is_checked_before_parsing() -> None:
    data = b"<a>" + b"x" * 2000 + b"</a>"
    assert _code(data, Limits(max_bytes=1024)) == "XML_TOO_LARGE"
    assert parse_xml(data, Limits(max_bytes=4096)).tag == "a"


def test_depth_limit_is_exact() -> None:
    limits = Limits(max_depth=20)
    at_limit = b"<a>" * 20 + b"</a>" * 20
    assert parse_xml(at_limit, limits).tag == "a"
    too_deep = b"<a>" * 21 + b"</a>" * 21
    assert _code(too_deep, limits) == "XML_TOO_DEEP"


def test_libxml2_refuses_beyond_its_own_limit() -> None:
    depth = LIBXML2_MAX_DEPTH + 5
    assert _code(b"<a>" * depth + b"</a>" * depth) == "XML_TOO_DEEP"


def test_malformed_reports_line_and_column() -> None:
    with pytest.raises(ParseError) as exc:
        parse_xml(b"<a>\n  <b>\n</a>")
    assert exc.value.code == "XML_MALFORMED"
    assert exc.value.line == 3
    assert exc.value.column is not None and exc.value.column > 0
    assert "mismatch" in exc.value.detail


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "XML_EMPTY"),
        (b"\xef\xbb\xbf\n  ", "XML_EMPTY"),
        (b"hello", "XML_NOT_XML"),
        (b'{"a": 1}', "XML_NOT_XML"),
        (b"<a>", "XML_MALFORMED"),
        (b"<a>&undefined;</a>", "XML_MALFORMED"),
        (b'<?xml version="1.0" encoding="UTF-8"?><a>\xc3\x28</a>', "XML_ENCODING"),
        (b'<?xml version="1.0" encoding="NO-SUCH"?><a/>', "XML_ENCODING"),
        (b"<!DOCTYPE a><a/>", "XML_DTD_FORBIDDEN"),
        (b'<!-- c --><?pi x?>\n<!DOCTYPE a SYSTEM "x.dtd"><a/>', "XML_DTD_FORBIDDEN"),
        (b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', "XML_ENTITY_FORBIDDEN"),
    ],
)
def test_error_codes(data: bytes, code: str) -> None:
    assert _code(data) == code


def test_doctype_text_inside_content_is_not_a_declaration() -> None:
    root = parse_xml(b"<a><![CDATA[<!DOCTYPE x>]]><!-- <!DOCTYPE y> --></a>")
    assert root.text == "<!DOCTYPE x>"


def test_entities_are_never_expanded_even_predefined_ones_stay_text() -> None:
    root = parse_xml(b"<a>&lt;&amp;&#228;</a>")
    assert root.text == "<&ä"


def test_result_is_an_lxml_element() -> None:
    assert isinstance(parse_xml(b"<a/>"), etree._Element)


SECRET = "Mustermann"


@pytest.mark.parametrize(
    "data",
    [
        b"<a><Mustermann></a>",
        b"<a>&Mustermann;</a>",
        b"<a x=Mustermann/>",
        b"<a>Mustermann</a><Mustermann/>",
        b"<a><b>Mustermann</b></Mustermann>",
        b"<a><Mustermann x='1' x='2'/></a>",
        b"<a>Mustermann & Co</a>",
        b"<a>Mustermann <</a>",
        b"<a xmlns:Mustermann='urn:x'><Mustermann:b/><c:Mustermann/></a>",
        '<?xml version="1.0" encoding="UTF-8"?><a>Müller Mustermann</a>'.encode("latin-1"),
        '<?xml version="1.0" encoding="UTF-8"?><a>\u00fcMustermann</a>'.encode("latin-1"),
        b"<a>\x00Mustermann</a>",
        b"<a>\x01Mustermann</a>",
    ],
)
def test_parse_errors_quote_nothing_from_the_document(data: bytes) -> None:
    """The detail goes into dead letters and logs: no name, value or byte of the document."""
    with pytest.raises(ParseError) as exc:
        parse_xml(data)
    detail = exc.value.detail
    assert exc.value.code.startswith("XML_")
    assert SECRET not in detail and SECRET.lower() not in detail.lower()
    assert "Müller" not in detail and "0x" not in detail.lower()
    assert "ller" not in detail
