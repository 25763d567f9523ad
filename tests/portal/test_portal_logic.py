"""Pure logic of the portal: catalogue, identity assertions, form schemas, status."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from joserfc.jwk import ECKey

from hub.core.region import Region
from hub.errors import ConfigError
from hub.portal.catalog import Catalogue
from hub.portal.forms import FormSchema
from hub.portal.identity import IdentityError, IdentityVerifier, trust_level_of
from hub.portal.status import ApplicationState, ApplicationStore, request_digest
from hub.settings import DEFAULT_CONFIG_DIR

from .helpers import PortalSetup

FORM = {"art": "einfach", "familienname": "Çelik-Müller", "vornamen": "Zoë",
        "geburtsdatum": "1987-03-14", "zustellung": "postfach"}


@pytest.fixture
def setup(tmp_path: Path) -> PortalSetup:
    return PortalSetup(tmp_path / "portal").write()


@pytest.fixture
def catalogue(setup: PortalSetup) -> Catalogue:
    found = Catalogue.of_region(Region.load(setup.region_file))
    assert found is not None
    return found


def test_bundled_catalogue_names_a_responsible_authority_per_city() -> None:
    region = Region.load(DEFAULT_CONFIG_DIR / "region.toml")
    catalogue = Catalogue.of_region(region)
    assert catalogue is not None and catalogue.portal is None  # endpoints off by default
    kinds = {a.kind for a in region}
    for service in catalogue:
        assert service.placeholder_key  # until the real LeiKa keys are configured
        for ags in sorted({a.ags for a in region}):
            found = catalogue.responsible(service, ags)
            if service.kind in kinds:
                assert found is not None and found.kind == service.kind and found.ags == ags
            else:
                assert found is None and service in catalogue.unserved()
    meldung = catalogue.get("meldebescheinigung")
    assert meldung is not None
    assert catalogue.responsible(meldung, "5122000").id == "solingen.meldebehoerde"  # type: ignore[union-attr]
    assert catalogue.responsible(meldung, "05158032") is None  # outside the region
    assert catalogue.responsible(meldung, "not-an-ags") is None


def test_a_fourth_city_is_configuration(tmp_path: Path, setup: PortalSetup) -> None:
    text = setup.region_file.read_text("utf-8") + (
        '\n[[authority]]\nid = "velbert.meldebehoerde"\nmunicipality = "Velbert"\n'
        'ags = "05158032"\nkind = "meldebehoerde"\ndvdv_key = "ags:05158032"\n')
    region_file = tmp_path / "region-velbert.toml"
    region_file.write_text(text, "utf-8")
    catalogue = Catalogue.of_region(Region.load(region_file))
    assert catalogue is not None
    meldung = catalogue.get("meldebescheinigung")
    assert meldung is not None
    assert catalogue.responsible(meldung, "05158032").id == "velbert.meldebehoerde"  # type: ignore[union-attr]
    assert "velbert.meldebehoerde" in {a.id for a in catalogue.deciding_authorities()}


def test_catalogue_errors_are_one_line(tmp_path: Path, setup: PortalSetup) -> None:
    broken = tmp_path / "services.toml"
    text = setup.services_file.read_text("utf-8")
    broken.write_text(text.replace('trust_level = "hoch"', 'trust_level = "mittel"'), "utf-8")
    with pytest.raises(ConfigError, match="trust_level") as info:
        Catalogue.load(broken, Region.load(setup.region_file))
    assert "\n" not in str(info.value)
    schema = tmp_path / "bad.schema.json"
    schema.write_text('{"type": "object", "properties": {"x": {"type": "string"}}}', "utf-8")
    broken.write_text(text.replace(str(DEFAULT_CONFIG_DIR / "services/kita-platz.schema.json"),
                                   str(schema)), "utf-8")
    with pytest.raises(ConfigError, match="additionalProperties"):
        Catalogue.load(broken, Region.load(setup.region_file))


def test_identity_checks(setup: PortalSetup, catalogue: Catalogue) -> None:
    assert catalogue.portal is not None
    verifier = IdentityVerifier(catalogue.portal.identity)
    identity = verifier.verify(setup.assertion(level="hoch"))
    assert (identity.subject, identity.trust_level) == ("pseudonym-4711", "hoch")
    forger = ECKey.generate_key("P-256", parameters={"kid": "idp-1"})
    now = int(time.time())
    cases = {
        "IDENTITY_MISSING": None,
        "IDENTITY_MALFORMED": "not.a-jwt",
        "IDENTITY_SIGNATURE": setup.assertion(key=forger),
        "IDENTITY_EXPIRED": setup.assertion(exp=now - 120, iat=now - 600),
        "IDENTITY_ISSUER": setup.assertion(iss="https://elsewhere.invalid"),
        "IDENTITY_AUDIENCE": setup.assertion(aud="another-service"),
        "IDENTITY_NOT_YET_VALID": setup.assertion(nbf=now + 600),
        "IDENTITY_SUBJECT": setup.assertion(subject=""),
    }
    for code, token in cases.items():
        with pytest.raises(IdentityError) as info:
            verifier.verify(token)
        assert info.value.code == code, code
        assert "\n" not in info.value.reason
    # an unsigned token ("alg": "none") never passes
    _header, payload, _ = setup.assertion().split(".")
    import base64

    none = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    with pytest.raises(IdentityError):
        verifier.verify(f"{none}.{payload}.")
    assert verifier.verify(setup.assertion(level="niedrig")).trust_level == "niedrig"
    assert trust_level_of("http://eidas.europa.eu/LoA/high") == "hoch"
    assert trust_level_of(["substantial"]) == "substantiell"
    assert trust_level_of(3) == "niedrig"


def test_trust_levels(catalogue: Catalogue) -> None:
    aufenthalt = catalogue.get("aufenthaltstitel-verlaengerung")
    meldung = catalogue.get("meldebescheinigung")
    assert aufenthalt is not None and meldung is not None
    assert aufenthalt.trust_sufficient("hoch") and not aufenthalt.trust_sufficient("substantiell")
    assert meldung.trust_sufficient("substantiell") and meldung.trust_sufficient("hoch")
    assert not meldung.trust_sufficient("niedrig") and not meldung.trust_sufficient("x")


def test_form_errors_name_the_path_never_the_value(catalogue: Catalogue) -> None:
    meldung = catalogue.get("meldebescheinigung")
    assert meldung is not None
    schema = FormSchema.of(meldung)
    assert schema.check(FORM) is None
    bad = schema.check({**FORM, "geburtsdatum": "14.03.1987"})
    assert bad is not None and (bad.path, bad.rule) == ("/geburtsdatum", "pattern")
    missing = schema.check({k: v for k, v in FORM.items() if k != "vornamen"})
    assert missing is not None and (missing.path, missing.rule) == ("/vornamen", "required")
    extra = schema.check({**FORM, "Zoë Çelik": "x"})
    assert extra is not None and extra.path == "/" and "Zoë" not in str(extra.as_dict())
    assert schema.check([FORM]) is not None and schema.check(None) is not None


def test_events_round_trip_through_the_derived_avro_schema(catalogue: Catalogue) -> None:
    for service in catalogue:
        schema = FormSchema.of(service)
        assert schema.avro_schema["name"].endswith("Application")
    meldung = catalogue.get("meldebescheinigung")
    assert meldung is not None
    schema = FormSchema.of(meldung)
    record = {"application_id": "A-1", "service_key": meldung.key, "ags": "05122000",
              "authority": "solingen.meldebehoerde", "applicant_id": "p", "trust_level": "hoch",
              "payment_reference": None, "fee_cents": None, "received": "2026-01-01T00:00:00Z",
              "form": FORM}
    data = schema.encode(record)
    assert data[:2] == b"\xc3\x01" and data[2:10] == schema.fingerprint
    decoded = schema.decode(data)
    assert decoded["form"] == {**FORM, "zweck": None, "anzahl": None}
    assert decoded["applicant_id"] == "p"


def test_status_records_fold_to_the_latest_state() -> None:
    digest = request_digest("meldebescheinigung", "05122000", "p", None, FORM)
    assert digest == request_digest("meldebescheinigung", "05122000", "p", None, dict(FORM))
    assert digest != request_digest("meldebescheinigung", "05122000", "q", None, FORM)
    state = ApplicationState("A-1", "meldebescheinigung", "05122000", "solingen.meldebehoerde",
                             "p", "substantiell", digest).step("received")
    forwarded = state.step("forwarded")
    store = ApplicationStore()
    store.apply_record(b"A-1", forwarded.encode())
    store.apply_record(b"A-1", state.encode())  # an older step read later changes nothing
    known = store.get("A-1")
    assert known is not None and known.status == "forwarded"
    assert [s["status"] for s in known.public()["history"]] == ["received", "forwarded"]
    assert "applicant_id" not in known.public()
    store.apply_record(b"A-1", None)
    assert store.get("A-1") is None
    with pytest.raises(ValueError):
        state.step("paid-maybe")
