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


def test_with_validation_runs_the_full_check_after_the_hardened_one() -> None:
    from dataclasses import dataclass, field

    from hub.adapters.precheck import default_checker, with_validation

    @dataclass(frozen=True)
    class Problem:  # the shape of hub.validation.Problem / ValidationReport
        code: str
        message: str
        line: int | None = None
        column: int | None = None
        path: str | None = None

    @dataclass(frozen=True)
    class Report:
        valid: bool
        standard: str | None
        version: str | None
        message_code: str | None
        problems: tuple[Problem, ...] = field(default=())

    seen: list[bytes] = []

    def validate(data: bytes) -> Report:
        seen.append(data)
        if b"invalid" in data:
            return Report(False, "XMeld", "25.11a", "0201",
                          (Problem("SCHEMA_INVALID", "element x not expected", 3, 4, "/a/x"),))
        return Report(True, "XMeld", "25.11a", "0201")

    check = with_validation(default_checker(4096), validate)
    assert check(sample_payload(0, "id-1")).valid
    assert not check(b"<a>").valid and len(seen) == 1  # malformed: never reaches the XSD
    bad = check(sample_payload(0, "id-2").replace(b"Nachricht", b"invalid"))
    assert not bad.valid and bad.message_id == "id-2"
    assert bad.as_json()["standard"] == "XMeld"
    assert bad.as_json()["problems"][0] == {"code": "SCHEMA_INVALID",
                                             "message": "element x not expected",
                                             "line": 3, "column": 4, "path": "/a/x"}
