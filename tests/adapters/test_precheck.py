from __future__ import annotations

from hub.adapters.precheck import precheck
from hub.testing import sample_payload


def test_codes_of_the_hardened_check() -> None:
    assert precheck(b"  ").problems[0].code == "XML_EMPTY"
    assert precheck(b"<a/>" * 10, max_bytes=20).problems[0].code == "XML_TOO_LARGE"
    assert precheck(b"<a>" * 10 + b"</a>" * 10, max_depth=5).problems[0].code == "XML_TOO_DEEP"
    assert precheck(b"<!DOCTYPE a><a/>").problems[0].code == "XML_DTD_FORBIDDEN"
    external = b'<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>'
    assert precheck(external).problems[0].code == "XML_DTD_FORBIDDEN"
    assert precheck(b"not xml").problems[0].code == "XML_MALFORMED"


def test_valid_message_yields_its_nachrichten_uuid() -> None:
    result = precheck(sample_payload(0, "1b4e28ba-2fa1-11d2-883f-0016d3cca427"))
    assert result.valid and result.message_id == "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
    assert precheck(b"<a/>").message_id is None
    assert result.as_json()["problems"] == []
