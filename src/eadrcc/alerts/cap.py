"""CAP 1.2 (and 1.1) in: parsed safely, validated against the OASIS schema and
the rules the schema cannot express, then mapped onto `AlertIn` (pure logic).

Safety: defusedxml refuses any DTD, entity or external reference before the
document is looked at, so XXE payloads and entity bombs cost a parse error, not
memory or a network call. The schemas are read from this package, never fetched.
"""

from __future__ import annotations

import re
from copy import deepcopy
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import xmlschema
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from pydantic import ValidationError

from eadrcc.alerts import rules
from eadrcc.alerts.countries import iso3_of_code
from eadrcc.alerts.models import AlertIn, Area, Circle
from eadrcc.models import Point

SCHEMAS = Path(__file__).parent / "schemas"
NAMESPACES = {
    "urn:oasis:names:tc:emergency:cap:1.2": ("1.2", "CAP-v1.2_oasis.xsd"),
    "urn:oasis:names:tc:emergency:cap:1.1": ("1.1", "cap11.xsd"),
}
# CAP date-times: seconds precision and an explicit offset ("Z" is not CAP).
CAP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$")
DSIG = "http://www.w3.org/2000/09/xmldsig#"
# Geocodes naming a country (ISO 3166-1 alpha-3 or alpha-2) or a subdivision (ISO 3166-2,
# "AU-NSW"): each gives its country.
ISO_NAMES = {
    "iso3166-1",
    "iso 3166-1",
    "iso3",
    "iso3166",
    "country",
    "iso-3166-1",
    "iso3166-2",
    "iso 3166-2",
    "iso-3166-2",
    "iso2",
}
MAX_PROBLEMS = 50


class Unsafe(ValueError):
    """Not well-formed XML, or XML with DTDs/entities: refused outright (400)."""


class Problems(ValueError):
    """A CAP document that breaks the schema or CAP's rules (422); lists them all."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def parse(raw: bytes) -> AlertIn:
    root = _safe_root(raw)
    version, xsd = _version(root)
    # Every problem at once, so the sender can fix them in one go.
    problems = {**semantic_problems(root, _ns(root)), **_schema_problems(root, xsd)}
    if problems:
        raise Problems(problems)
    return to_alert(root, version)


def _safe_root(raw: bytes) -> Element:
    try:
        root: Element = fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise Unsafe(f"refused: {type(exc).__name__} (no DTDs or entities allowed)") from None
    except (ParseError, ValueError, LookupError) as exc:  # LookupError: unknown encoding
        raise Unsafe(f"not well-formed XML: {exc}") from None
    return root


def _ns(root: Element) -> str:
    return root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""


def _version(root: Element) -> tuple[str, str]:
    ns = _ns(root)
    if root.tag != f"{{{ns}}}alert" or ns not in NAMESPACES:
        raise Problems({"alert": f"not a CAP 1.1/1.2 alert (root element {root.tag!r})"})
    return NAMESPACES[ns]


def warm() -> None:
    """Compile the schemas now (a worker at start) rather than on the first alert."""
    for _version, xsd in NAMESPACES.values():
        _schema(xsd)


@cache
def _schema(xsd: str) -> xmlschema.XMLSchema:
    # "sandbox": local files beside the schema only; nothing is ever fetched.
    return xmlschema.XMLSchema(str(SCHEMAS / xsd), allow="sandbox", defuse="always")


def _schema_problems(root: Element, xsd: str) -> dict[str, str]:
    problems: dict[str, str] = {}
    # The document is already parsed: nothing it names (schemaLocation hints) is loaded.
    source = xmlschema.XMLResource(_without_signatures(root), allow="none")
    for error in _schema(xsd).iter_errors(source, use_location_hints=False):
        key = _unique(problems, (error.path or "alert").replace("{", "").split("}")[-1])
        problems[key] = error.reason or str(error.message)
        if len(problems) >= MAX_PROBLEMS:
            break
    return problems


def _without_signatures(root: Element) -> Element:
    """A copy without XML-DSig blocks: we neither verify nor judge them (integrations
    are authenticated by their HMAC), and real producers' signatures often bend
    the xmldsig schema."""
    copy = deepcopy(root)
    for signature in copy.findall(f"{{{DSIG}}}Signature"):
        copy.remove(signature)
    return copy


def _unique(problems: dict[str, str], key: str) -> str:
    n, candidate = 1, key
    while candidate in problems:
        n += 1
        candidate = f"{key} ({n})"
    return candidate


# ---- rules the schema does not check --------------------------------------------


def semantic_problems(root: Element, ns: str) -> dict[str, str]:
    p: dict[str, str] = {}
    t = _reader(ns)
    scope, msg_type = t(root, "scope"), t(root, "msgType")
    if scope == "Restricted" and not t(root, "restriction"):
        p["restriction"] = "required when scope is Restricted"
    if scope == "Private" and not t(root, "addresses"):
        p["addresses"] = "required when scope is Private"
    # Empty optional elements are common in real feeds (Environment Canada sends
    # <restriction/> on public alerts): read as absent. Filled-in ones must fit.
    if t(root, "restriction") and scope != "Restricted":
        p["restriction"] = "only used when scope is Restricted"
    references = t(root, "references")
    if msg_type in ("Update", "Cancel", "Ack", "Error") and not references:
        p["references"] = f"a {msg_type} must reference the message(s) it is about"
    if references:
        for ref in references.split():
            if rules.parse_reference(ref) is None:
                p["references"] = f"{ref!r} is not a sender,identifier,sent triple"
    for path, value in _times(root, ns):
        if not CAP_TIME.match(value):
            p[path] = f"{value!r} is not a CAP date-time with a UTC offset"
    for i, info in enumerate(root.findall(f"{{{ns}}}info")):
        _info_problems(info, ns, f"info[{i}]", p)
    return p


def _info_problems(info: Element, ns: str, where: str, p: dict[str, str]) -> None:
    t = _reader(ns)
    for j, area in enumerate(info.findall(f"{{{ns}}}area")):
        for k, polygon in enumerate(area.findall(f"{{{ns}}}polygon")):
            if not (polygon.text or "").strip():
                continue  # NWS sends empty <polygon/> for zone alerts: absent, not wrong
            problem = rules.polygon_problem(polygon.text or "")
            if problem:
                p[f"{where}.area[{j}].polygon[{k}]"] = problem
        for k, circle in enumerate(area.findall(f"{{{ns}}}circle")):
            if rules.parse_circle(circle.text or "") is None:
                p[f"{where}.area[{j}].circle[{k}]"] = "expected 'lat,lon radius_km'"
    effective, expires = t(info, "effective"), t(info, "expires")
    if (
        expires
        and effective
        and CAP_TIME.match(expires)
        and CAP_TIME.match(effective)
        and (datetime.fromisoformat(expires) <= datetime.fromisoformat(effective))
    ):
        p[f"{where}.expires"] = "must be after effective"


def _times(root: Element, ns: str) -> list[tuple[str, str]]:
    found = [("sent", (root.findtext(f"{{{ns}}}sent") or "").strip())]
    for i, info in enumerate(root.findall(f"{{{ns}}}info")):
        for name in ("effective", "onset", "expires"):
            value = info.findtext(f"{{{ns}}}{name}")
            if value is not None:
                found.append((f"info[{i}].{name}", value.strip()))
    return found


def _reader(ns: str) -> Any:
    def text(element: Element, name: str) -> str | None:
        value = element.findtext(f"{{{ns}}}{name}")
        return value.strip() if value is not None else None

    return text


# ---- mapping onto AlertIn -------------------------------------------------------


def to_alert(root: Element, version: str) -> AlertIn:
    ns = _ns(root)
    t = _reader(ns)
    infos = root.findall(f"{{{ns}}}info")
    info = _preferred(infos, ns)
    data: dict[str, Any] = {
        "source": "cap",
        "cap_version": version,
        "identifier": t(root, "identifier"),
        "sender": t(root, "sender"),
        "sent": t(root, "sent"),
        "status": t(root, "status"),
        "msg_type": t(root, "msgType"),
        "scope": t(root, "scope"),
        "references": [
            r for ref in (t(root, "references") or "").split() if (r := rules.parse_reference(ref))
        ],
    }
    if info is None:
        data["event"] = f"{data['msg_type']} (no info)"
    else:
        data.update(_info_fields(info, ns))
    data["hazard"] = rules.hazard_of(data["event"], data.get("category", []))
    try:
        return AlertIn.model_validate(data)
    except ValidationError as exc:  # e.g. a reference's time the schema let through
        problems = {".".join(str(p) for p in e["loc"]) or "alert": e["msg"] for e in exc.errors()}
        raise Problems(problems) from None


def _preferred(infos: list[Element], ns: str) -> Element | None:
    """The English info block when there are several languages, else the first."""
    for info in infos:
        if (info.findtext(f"{{{ns}}}language") or "en").lower().startswith("en"):
            return info
    return infos[0] if infos else None


def _info_fields(info: Element, ns: str) -> dict[str, Any]:
    t = _reader(ns)
    fields: dict[str, Any] = {
        "event": t(info, "event") or "(no event)",
        "category": [c.text.strip() for c in info.findall(f"{{{ns}}}category") if c.text],
        "urgency": t(info, "urgency"),
        "severity": t(info, "severity"),
        "certainty": t(info, "certainty"),
        "headline": t(info, "headline"),
        "description": t(info, "description"),
        "onset": t(info, "onset") or t(info, "effective"),
        "expires": t(info, "expires"),
    }
    fields = {k: v for k, v in fields.items() if v not in (None, "")}
    point, countries, area = _where(info, ns)
    if point is not None:
        fields["location"] = point
    if area is not None:
        fields["area"] = area
    fields["countries"] = countries
    return fields


def _where(info: Element, ns: str) -> tuple[Point | None, list[str], Area | None]:
    point: Point | None = None
    countries: list[str] = []
    polygons: list[list[Point]] = []
    circles: list[Circle] = []
    for area in info.findall(f"{{{ns}}}area"):
        for geocode in area.findall(f"{{{ns}}}geocode"):
            name = (geocode.findtext(f"{{{ns}}}valueName") or "").strip().lower()
            value = (geocode.findtext(f"{{{ns}}}value") or "").strip()
            code = iso3_of_code(value) if name in ISO_NAMES else None
            if code and code not in countries:
                countries.append(code)
        if point is None:
            point = _first_point(area, ns)
        polygons += _polygons(area, ns)
        circles += [
            Circle(lat=c[0], lon=c[1], radius_km=c[2])
            for e in area.findall(f"{{{ns}}}circle")
            if (c := rules.parse_circle(e.text or "")) and c[2] <= 20_000
        ]
    shapes = Area(polygons=polygons[:50], circles=circles[:50]) if polygons or circles else None
    return point, countries, shapes


def _polygons(area: Element, ns: str) -> list[list[Point]]:
    found = []
    for polygon in area.findall(f"{{{ns}}}polygon"):
        text = polygon.text or ""
        if text.strip() and rules.polygon_problem(text) is None:
            points = rules.polygon_points(text)[:10_000]
            found.append([Point(lat=lat, lon=lon) for lat, lon in points])
    return found


def _first_point(area: Element, ns: str) -> Point | None:
    for circle in area.findall(f"{{{ns}}}circle"):
        if parsed := rules.parse_circle(circle.text or ""):
            return Point(lat=parsed[0], lon=parsed[1])
    for polygon in area.findall(f"{{{ns}}}polygon"):
        if centre := rules.polygon_centre(polygon.text or ""):
            return Point(lat=centre[0], lon=centre[1])
    return None
