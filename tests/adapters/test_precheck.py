from __future__ import annotations

from hub.adapters.precheck import default_checker, precheck, validating_checker
from hub.core.schemas import SchemaRegistry
from hub.core.xmlsafe import Limits
from hub.settings import load_settings
from hub.testing import sample_payload
from tests.adapters.conftest import sample


def code(data: bytes, **limits: int) -> str:
    result = precheck(data, Limits(**limits))
    assert not result.valid and result.report.problems == result.problems
    return result.first_code


def test_codes_of_the_hardened_check() -> None:
    assert code(b"  ") == "XML_EMPTY"
    assert code(b"<a/>" * 10, max_bytes=20) == "XML_TOO_LARGE"
    assert code(b"<a>" * 10 + b"</a>" * 10, max_depth=5) == "XML_TOO_DEEP"
    assert code(b"<!DOCTYPE a><a/>") == "XML_DTD_FORBIDDEN"
    external = b'<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>'
    assert code(external) in {"XML_DTD_FORBIDDEN", "XML_ENTITY_FORBIDDEN"}
    assert code(b"<a><b></a>") == "XML_MALFORMED"


def test_valid_message_yields_its_nachrichten_uuid() -> None:
    result = default_checker(4096)(sample_payload(0, "1b4e28ba-2fa1-11d2-883f-0016d3cca427"))
    assert result.valid and result.message_id == "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
    assert precheck(b"<a/>").message_id is None
    assert result.as_json()["problems"] == []


def test_validating_checker_reports_like_hub_validation() -> None:
    check = validating_checker(SchemaRegistry.from_settings(load_settings()), Limits())
    good = sample("XMeld", "25.11a", "0201", "solingen.meldebehoerde",
                  "wuppertal.meldebehoerde", seed=11)
    result = check(good)
    assert result.valid and result.message_id
    assert result.as_json()["standard"] == "XMeld" and result.as_json()["valid"] is True

    invalid = check(good.replace(b"nachrichtenUUID>", b"nachrichtenUUIDx>"))
    report = invalid.as_json()
    assert not invalid.valid and report["version"] == "25.11a"
    assert report["problems"] and report["problems"][0]["code"].startswith("SCHEMA")

    unknown = check(sample_payload(0, "id-u"))
    assert unknown.first_code == "UNKNOWN_NAMESPACE" and unknown.message_id == "id-u"
    assert check(b"<a>").first_code == "XML_MALFORMED"
