"""The state of portal applications: status events and the store that folds them.

Every step of an application is one ``ApplicationStatus`` record (Avro,
single-object encoding) on the compacted topic ``xoev.status.applications``,
keyed by application id. Each record carries the whole history so far, so the
latest record per key — what compaction keeps — is the application's state;
a worker rebuilds its :class:`ApplicationStore` by reading the topic back.
No form data and no token: ids, codes, the pseudonymous applicant id and the
digest of what was applied for (for idempotency).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from hub.avro.single_object import SingleObjectCodec

__all__ = [
    "FINAL",
    "STATUS_CODEC",
    "STATUS_SCHEMA",
    "ApplicationState",
    "ApplicationStore",
    "Step",
    "iso_seconds",
    "request_digest",
]

#: The steps of an application, in the order they can happen.
STATUSES = ("received", "awaiting_payment", "paid", "forwarded", "rejected", "decided",
            "notice_delivered", "notice_failed")
#: nothing follows these steps
FINAL = frozenset({"notice_delivered", "notice_failed"})

STATUS_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "ApplicationStatus",
    "namespace": "de.xoev.hub.portal",
    "doc": "One step of a service portal application, with all steps so far. "
           "No form data, no token.",
    "fields": [
        {"name": "application_id", "type": "string"},
        {"name": "service_key", "type": "string"},
        {"name": "ags", "type": "string"},
        {"name": "authority", "type": ["null", "string"], "default": None},
        {"name": "status", "type": "string",
         "doc": "received, awaiting_payment, paid, forwarded, rejected, decided, "
                "notice_delivered, notice_failed"},
        {"name": "reason", "type": ["null", "string"], "default": None,
         "doc": "a stable code when rejected"},
        {"name": "applicant_id", "type": "string",
         "doc": "the identity provider's pseudonymous subject id"},
        {"name": "trust_level", "type": "string"},
        {"name": "fee_cents", "type": ["null", "long"], "default": None},
        {"name": "payment_reference", "type": ["null", "string"], "default": None},
        {"name": "request_sha256", "type": "string",
         "doc": "digest of service, AGS, applicant, payment reference and form data"},
        {"name": "at", "type": "string", "doc": "ISO 8601, UTC"},
        {"name": "history", "type": {"type": "array", "items": {
            "type": "record", "name": "ApplicationStep", "fields": [
                {"name": "status", "type": "string"},
                {"name": "at", "type": "string"},
                {"name": "reason", "type": ["null", "string"], "default": None},
            ]}}},
    ],
}
STATUS_CODEC = SingleObjectCodec(STATUS_SCHEMA)



def iso_seconds(text: str) -> float:
    """Unix seconds of an ISO 8601 time written by :func:`now_iso`."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def request_digest(service: str, ags: str, applicant: str, payment_reference: str | None,
                   form: Any) -> str:
    """What makes two requests under one application id "the same application"
    (a fresh identity assertion of the same applicant does not change it)."""
    canonical = json.dumps(
        [service, ags, applicant, payment_reference, form],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Step:
    status: str
    at: str
    reason: str | None = None


@dataclass(frozen=True)
class ApplicationState:
    """An application as the hub knows it (the latest status record)."""

    application_id: str
    service_key: str
    ags: str
    authority: str | None
    applicant_id: str
    trust_level: str
    request_sha256: str
    fee_cents: int | None = None
    payment_reference: str | None = None
    history: tuple[Step, ...] = field(default=())

    @property
    def status(self) -> str:
        return self.history[-1].status if self.history else "received"

    @property
    def reason(self) -> str | None:
        return self.history[-1].reason if self.history else None

    def step(self, status: str, reason: str | None = None, at: str | None = None
             ) -> ApplicationState:
        """This state after one more step."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        return replace(self, history=(*self.history, Step(status, at or now_iso(), reason)))

    def reached(self, status: str) -> bool:
        return any(s.status == status for s in self.history)

    def at(self, status: str) -> str | None:
        """When the first step ``status`` happened (ISO 8601), or None."""
        return next((s.at for s in self.history if s.status == status), None)

    @property
    def reference(self) -> str:
        """What the ePayment provider's notifications name: the payment reference the
        portal sent, else the application id."""
        return self.payment_reference or self.application_id

    def record(self) -> dict[str, Any]:
        last = self.history[-1]
        return {
            "application_id": self.application_id, "service_key": self.service_key,
            "ags": self.ags, "authority": self.authority, "status": last.status,
            "reason": last.reason, "applicant_id": self.applicant_id,
            "trust_level": self.trust_level, "fee_cents": self.fee_cents,
            "payment_reference": self.payment_reference,
            "request_sha256": self.request_sha256, "at": last.at,
            "history": [{"status": s.status, "at": s.at, "reason": s.reason}
                        for s in self.history],
        }

    def encode(self) -> bytes:
        return STATUS_CODEC.encode(self.record())

    @classmethod
    def decode(cls, data: bytes) -> ApplicationState:
        raw: Mapping[str, Any] = STATUS_CODEC.decode(data)
        return cls(
            application_id=raw["application_id"], service_key=raw["service_key"],
            ags=raw["ags"], authority=raw["authority"], applicant_id=raw["applicant_id"],
            trust_level=raw["trust_level"], request_sha256=raw["request_sha256"],
            fee_cents=raw["fee_cents"], payment_reference=raw["payment_reference"],
            history=tuple(Step(s["status"], s["at"], s["reason"]) for s in raw["history"]),
        )

    def public(self) -> dict[str, Any]:
        """What ``GET /v1/applications/{id}`` answers (no applicant id, no digest)."""
        return {
            "application_id": self.application_id, "service": self.service_key,
            "ags": self.ags, "authority": self.authority, "status": self.status,
            "reason": self.reason, "fee_cents": self.fee_cents,
            "history": [{"status": s.status, "at": s.at, "reason": s.reason}
                        for s in self.history],
        }


class ApplicationStore:
    """The latest state per application id (folded from status records)."""

    def __init__(self) -> None:
        self._states: dict[str, ApplicationState] = {}
        self._references: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._states)

    def get(self, application_id: str) -> ApplicationState | None:
        return self._states.get(application_id)

    def put(self, state: ApplicationState) -> None:
        """Keep ``state`` unless a state with more steps is known (read-back order)."""
        known = self._states.get(state.application_id)
        if known is None or len(state.history) >= len(known.history):
            self._states[state.application_id] = state
            if state.fee_cents is not None:
                self._references.setdefault(state.reference, state.application_id)

    def by_reference(self, reference: str) -> ApplicationState | None:
        """The application with a fee whose payment reference is ``reference``."""
        application_id = self._references.get(reference)
        return self._states.get(application_id) if application_id is not None else None

    def states(self) -> list[ApplicationState]:
        return list(self._states.values())

    def apply_record(self, key: bytes | None, value: bytes | None) -> None:
        """One record read from the status topic (a tombstone forgets the id)."""
        if value is None:
            if key is not None:
                gone = self._states.pop(key.decode("utf-8", "replace"), None)
                if gone is not None and self._references.get(gone.reference) == \
                        gone.application_id:
                    del self._references[gone.reference]
            return
        self.put(ApplicationState.decode(value))
