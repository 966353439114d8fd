"""An inbound alert document, read into an `AlertIn` and the countries its area
touches: everything heavy between the bytes and the database, as top-level pure
functions so that the parse pool can run them in a worker process.

Errors are raised as the HTTP problems they become (400, 422), since exceptions
cross the process boundary by pickling and these keep their fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from eadrcc.alerts import cap
from eadrcc.alerts.feeds import geojson_problem
from eadrcc.alerts.models import AlertIn
from eadrcc.alerts.service import countries_of_area
from eadrcc.errors import BadRequest, Invalid
from eadrcc.web import invalid_from, loads


@dataclass(frozen=True)
class ReadAlert:
    """An alert as read, with its area apart as JSON text ready to store: building
    tens of thousands of point objects again in the hub (to unpickle them), or
    encoding them there, would hold the event loop about as long as reading did."""

    alert: AlertIn  # without its area
    area_json: str | None
    touched: list[str]  # ISO3 of the countries its area touches


def _apart(alert: AlertIn) -> ReadAlert:
    area_json = alert.area.model_dump_json() if alert.area is not None else None
    return ReadAlert(alert.model_copy(update={"area": None}), area_json, countries_of_area(alert))


def read_cap(raw: bytes) -> ReadAlert:
    """A CAP 1.2/1.1 document: 400 when unsafe or not XML, 422 listing its problems."""
    try:
        alert = cap.parse(raw)
    except cap.Unsafe as exc:
        raise BadRequest(str(exc)) from None
    except cap.Problems as exc:
        raise Invalid("the CAP message is not valid", errors=exc.problems) from None
    return _apart(alert)


def read_json(raw: bytes) -> ReadAlert:
    """An alert in our JSON form (not a feed's GeoJSON document)."""
    data: Any = loads(raw)
    if problem := geojson_problem(data):  # a feed's document, not one alert
        raise Invalid(problem)
    try:
        alert = AlertIn.model_validate(data)
    except ValidationError as exc:
        raise invalid_from(exc) from None
    return _apart(alert)
