"""The portal simulation's pure parts: the seeded mix, the made-up forms, the
outcome descriptions, and a setup kept on disk (hub.portal.simulate)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from hub.core.region import Region
from hub.errors import ConfigError
from hub.portal.catalog import Catalogue
from hub.portal.forms import FormSchema
from hub.portal.simulate import (
    KINDS,
    PortalSetup,
    describe,
    intended,
    plan_citizens,
    sample_form,
)


@pytest.fixture
def catalogue(tmp_path: Path) -> Catalogue:
    setup = PortalSetup(tmp_path / "sim", free=()).write()
    found = Catalogue.of_region(Region.load(setup.region_file))
    assert found is not None
    return found


def test_the_mix_is_seeded_covers_every_kind_and_fits_the_catalogue(
    catalogue: Catalogue,
) -> None:
    first = plan_citizens(catalogue, 30, seed=3, run="abc123")
    again = plan_citizens(catalogue, 30, seed=3, run="abc123")
    other = plan_citizens(catalogue, 30, seed=4, run="abc123")
    assert [(c.kind, c.service, c.city, c.form) for c in first] == \
        [(c.kind, c.service, c.city, c.form) for c in again]
    assert [(c.kind, c.service, c.city) for c in first] != \
        [(c.kind, c.service, c.city) for c in other]
    kinds = Counter(c.kind for c in first)
    assert set(kinds) == set(KINDS) and kinds["pays"] == max(kinds.values())
    assert len({c.application_id for c in first}) == 30
    assert {c.city for c in first} == {"Wuppertal", "Solingen", "Remscheid"}
    for citizen in first:
        service = catalogue.get(citizen.service)
        assert service is not None
        authority = catalogue.responsible(service, citizen.ags)
        assert authority is not None and authority.id == citizen.authority
        assert FormSchema.of(service).check(citizen.form) is None
        if citizen.kind == "weak identity":
            assert not service.trust_sufficient(citizen.trust_level)
        else:
            assert service.trust_sufficient(citizen.trust_level)
        if citizen.kind in ("pays", "abandons", "wrong amount"):
            assert service.fee_cents is not None and citizen.payment_reference
        if citizen.kind == "free":
            assert service.fee_cents is None
    pays = next(c for c in first if c.kind == "pays")
    wrong = next(c for c in first if c.kind == "wrong amount")
    assert pays.fee_cents is not None and wrong.fee_cents is not None
    assert pays.paid_amount == f"{pays.fee_cents // 100}.{pays.fee_cents % 100:02d}"
    assert wrong.paid_amount is not None
    assert int(wrong.paid_amount.replace(".", "")) != wrong.fee_cents
    assert next(c for c in first if c.kind == "abandons").paid_amount is None
    # fresh ids per run unless one is given
    assert plan_citizens(catalogue, 2, 3)[0].application_id != \
        plan_citizens(catalogue, 2, 3)[0].application_id


def test_a_small_mix_and_a_catalogue_without_a_strong_service(
    tmp_path: Path, catalogue: Catalogue,
) -> None:
    assert len(plan_citizens(catalogue, 2, 1, run="x")) == 2
    text = catalogue.region.services_file.read_text("utf-8")  # type: ignore[union-attr]
    weak = Catalogue.load(_write(tmp_path / "weak.toml",
                                 text.replace('trust_level = "hoch"',
                                              'trust_level = "substantiell"')),
                          catalogue.region)
    kinds = {c.kind for c in plan_citizens(weak, 40, 1, run="x")}
    assert kinds == set(KINDS) - {"weak identity"}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, "utf-8")
    return path


def test_forms_are_made_up_valid_and_refused_when_the_schema_is_beyond_them(
    catalogue: Catalogue,
) -> None:
    rng = random.Random(1)
    for service in catalogue:
        for _ in range(20):
            assert FormSchema.of(service).check(sample_form(service, rng)) is None
    service = catalogue.get("meldebescheinigung")
    assert service is not None
    from dataclasses import replace

    odd = replace(service, key="odd", schema={
        "type": "object", "additionalProperties": False, "required": ["code"],
        "properties": {"code": {"type": "string", "pattern": "^[A-Z]{2}-[0-9]+$"}}})
    with pytest.raises(ConfigError, match="service odd: a string pattern"):
        sample_form(odd, rng)


def test_outcomes_are_described_from_refusal_state_and_postfach(
    catalogue: Catalogue,
) -> None:
    def state(*steps: tuple[str, str | None]) -> dict[str, object]:
        return {"status": steps[-1][0],
                "history": [{"status": s, "at": "t", "reason": r} for s, r in steps]}

    decision = [{"kind": "decision"}]
    rejection = [{"kind": "rejection"}]
    assert describe((403, "TRUST_LEVEL_TOO_LOW"), None, []) == "refused 403 TRUST_LEVEL_TOO_LOW"
    assert describe(None, None, []) == "unknown to the hub"
    paid = state(("received", None), ("awaiting_payment", None), ("paid", None),
                 ("forwarded", None), ("decided", None), ("notice_delivered", None))
    assert describe(None, paid, decision) == "forwarded, decision notice delivered"
    assert describe(None, paid, []) == \
        "forwarded, notice delivered elsewhere (not in this Postfach)"
    timeout = state(("received", None), ("awaiting_payment", None),
                    ("rejected", "PAYMENT_TIMEOUT"), ("notice_delivered", None))
    assert describe(None, timeout, rejection) == \
        "rejected PAYMENT_TIMEOUT, rejection notice delivered"
    failed = state(("received", None), ("rejected", "PAYMENT_FAILED"),
                   ("notice_failed", "POSTFACH_UNREACHABLE"))
    assert describe(None, failed, []) == "rejected PAYMENT_FAILED, notice failed " \
        "POSTFACH_UNREACHABLE"
    waiting = state(("received", None), ("awaiting_payment", None))
    assert describe(None, waiting, []) == "awaiting payment"

    citizens = {c.kind: c for c in plan_citizens(catalogue, 10, 2, run="x")}
    assert intended(citizens["pays"]) == "forwarded, decision notice delivered"
    assert intended(citizens["free"], authorities=False) == "forwarded"
    assert intended(citizens["abandons"]) == describe(None, timeout, rejection)
    assert intended(citizens["weak identity"]) == "refused 403 TRUST_LEVEL_TOO_LOW"


def test_a_saved_setup_loads_back_with_its_keys_and_secret_files(tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    saved = PortalSetup(folder, free=(), postfach_url="http://127.0.0.1:6067/postfach",
                        payment_timeout="30s").save()
    loaded = PortalSetup.load(folder)
    assert (loaded.token, loaded.payment_token, loaded.postfach_secret) == (
        saved.token, saved.payment_token, saved.postfach_secret)
    assert loaded.postfach_url == saved.postfach_url and loaded.payment_timeout == "30s"
    # the loaded key signs assertions the saved JWKS verifies
    from hub.portal.identity import IdentityVerifier

    found = Catalogue.of_region(Region.load(loaded.region_file))
    assert found is not None and found.portal is not None
    verifier = IdentityVerifier(found.portal.identity, folder)
    assert verifier.verify(loaded.assertion(subject="sim:1", level="hoch")).subject == "sim:1"
    for name in ("worker.env", "idp-private-key.json"):
        assert (folder / name).stat().st_mode & 0o777 == 0o600
    for name in ("setup.json", "services.toml", "region.toml", "jwks.json"):
        text = (folder / name).read_text("utf-8")
        assert saved.token not in text and saved.postfach_secret not in text
        assert '"d"' not in text
    with pytest.raises(ConfigError, match="no portal setup here"):
        PortalSetup.load(tmp_path / "elsewhere")
