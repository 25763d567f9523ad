"""The file plan as xdomea 3.0.0 ``Aktenplan.Aktenplan.0301`` (built with lxml).

:func:`render` writes one 0301 for one recipient: the ``Kopf``
(``NkNichtFVDatenWeitereEmpfaengerMitEmpfangsbestaetigungType``: ProzessID, type
0301, creation time, Absender and Empfaenger by their ``Behoerdenkennung``, the
sending system, ``Empfangsbestaetigung`` true: the registratur is asked for the
0302) and the ``Aktenplan`` (``AktenplanType``: Bezeichnung, Typ, Version and the
units as nested ``Einheit`` elements with Kennzeichen, Inhaltsangabe,
Aussonderungsart, Stillgelegt and Aufbewahrungsdauer). Element order follows the
official XSD; the rendering is valid against the official 3.0.0 package
(tests/xdomea/test_aktenplan_publish.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from lxml import etree

from hub import __version__
from hub.core.aktenplan import Aktenplan, Unit

__all__ = ["MESSAGE", "NAMESPACE", "render"]

NAMESPACE = "urn:xoev-de:xdomea:schema:3.0.0"
MESSAGE = "Aktenplan.Aktenplan.0301"
CODE = "0301"
NACHRICHTENTYP_LIST = "urn:xoev-de:xdomea:codeliste:nachrichtentyp"
NACHRICHTENTYP_VERSION = "2.0"
AUSSONDERUNGSART_LIST = "urn:xoev-de:xdomea:codeliste:aussonderungsart"
AUSSONDERUNGSART_VERSION = "1.0"


def _el(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NAMESPACE}}}{name}")
    if text is not None:
        element.text = text
    return element


def _code(parent: etree._Element, name: str, value: str, list_uri: str | None,
          list_version: str) -> None:
    element = _el(parent, name)
    if list_uri is not None:
        element.set("listURI", list_uri)
    element.set("listVersionID", list_version)
    code = etree.SubElement(element, "code")  # xoev-code: unqualified
    code.text = value


def _party(kopf: etree._Element, role: str, key: str) -> None:
    prefix, _, ident = key.partition(":")
    party = _el(kopf, role)
    kennung = _el(party, "Behoerdenkennung")
    # Behoerdenschluessel and Praefix are code types without a fixed list
    _code(kennung, "Behoerdenschluessel", ident, None, "1")
    _code(kennung, "Praefix", prefix, None, "1")


def _unit(parent: etree._Element, plan: Aktenplan, unit: Unit) -> None:
    element = _el(parent, "Einheit")
    _el(element, "Kennzeichen", unit.kennzeichen)
    _el(element, "Inhaltsangabe", unit.title)
    art = _el(element, "Aussonderungsart")
    _code(art, "Aussonderungsart", unit.assessment, AUSSONDERUNGSART_LIST,
          AUSSONDERUNGSART_VERSION)
    _el(element, "Stillgelegt", "true" if unit.retired else "false")
    dauer = _el(element, "Aufbewahrungsdauer")
    if unit.retention_years is None:
        _el(dauer, "Unbefristet", "1")  # fixed="1" in the XSD
    else:
        _el(dauer, "AnzahlJahre", str(unit.retention_years))
    for child in plan.children(unit.kennzeichen):
        _unit(element, plan, child)


def render(
    plan: Aktenplan,
    *,
    sender_key: str,
    recipient_key: str,
    process_id: str | None = None,
    created: datetime | None = None,
) -> bytes:
    """One ``Aktenplan.Aktenplan.0301`` from ``sender_key`` to ``recipient_key``
    (``<Praefix>:<Behoerdenschluessel>``, as the region names them). A fresh
    ProzessID (UUID 4) unless one is given."""
    created = created or datetime.now().astimezone()
    root = etree.Element(f"{{{NAMESPACE}}}{MESSAGE}", nsmap={"xdomea": NAMESPACE})
    kopf = _el(root, "Kopf")
    _el(kopf, "ProzessID", process_id or str(uuid.uuid4()))
    _code(kopf, "Nachrichtentyp", CODE, NACHRICHTENTYP_LIST, NACHRICHTENTYP_VERSION)
    _el(kopf, "Erstellungszeitpunkt", created.isoformat(timespec="seconds"))
    _party(kopf, "Absender", sender_key)
    _party(kopf, "Empfaenger", recipient_key)
    system = _el(kopf, "SendendesSystem")
    _el(system, "Produktname", "xoev-hub")
    _el(system, "Version", __version__)
    _el(kopf, "Empfangsbestaetigung", "true")
    aktenplan = _el(root, "Aktenplan")
    _el(aktenplan, "Bezeichnung", plan.name)
    if plan.type:
        _el(aktenplan, "Typ", plan.type)
    _el(aktenplan, "Version", plan.version)
    for unit in plan.children(None):
        _unit(aktenplan, plan, unit)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
