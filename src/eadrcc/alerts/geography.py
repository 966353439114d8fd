"""Which countries an alert's area touches: CAP polygons, circles and points against
the Natural Earth 1:110m shapes the console draws, indexed once (an STRtree).

1:110m borders and coasts are off by up to ~10 km, so every area is widened by
`MARGIN_KM` before it is tested: a point on a real coast that the coarse shape cuts
off still counts, at the cost of naming a neighbour whose border lies within the
margin. Shapes that Natural Earth unwraps past ±180 (Russia, Fiji) are also indexed
shifted back into -180..180. An alert area that crosses the antimeridian is unwrapped
the same way (its longitudes made continuous, so past 180), and the part of any area
lying past ±180 is also looked up shifted by 360°: read as written, a ring from 177°
to -178° would span the other 355° of the globe and name every country on them.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import structlog
from aiohttp import web
from shapely.affinity import scale, translate
from shapely.errors import GEOSException
from shapely.geometry import Point as ShapelyPoint
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

log = structlog.get_logger(__name__)
SHAPES = Path(__file__).parents[1] / "console" / "static" / "data" / "countries-110m.geo.json"
KM_PER_DEGREE = 111.32
MARGIN_KM = 15.0
SMALL_COUNTRY_KM = 15.0  # countries 1:110m has no shape for, drawn as a dot at the capital
MAX_RADIUS_KM = 2000.0  # a CAP circle wider than this says nothing about countries
MAX_EXACT_POINTS = 2000  # larger polygons are judged by their convex hull


@dataclass(frozen=True)
class Circle:
    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True)
class World:
    tree: STRtree
    codes: list[str]  # the ISO3 of each geometry in the tree, by index

    def touched(self, area: BaseGeometry) -> list[str]:
        """ISO3 codes of the countries `area` (lon/lat degrees) touches, once each, sorted."""
        found: set[str] = set()
        for part in _wrapped(area):
            found.update(self.codes[i] for i in self.tree.query(part, predicate="intersects"))
        return sorted(found)


@cache
def world() -> World:
    """The index, built on first use (the app builds it at start, off the event loop)."""
    doc = json.loads(SHAPES.read_text(encoding="utf-8"))
    geoms: list[BaseGeometry] = []
    codes: list[str] = []
    for feature in doc["features"]:
        iso3 = feature["properties"].get("iso3")
        if not iso3:
            continue  # Kosovo, N. Cyprus, Somaliland carry no ISO code in the source
        for geom in _in_range(shapely.make_valid(shape(feature["geometry"]))):
            geoms.append(geom)
            codes.append(iso3)
    for iso3, where in doc.get("small", {}).items():
        if len(iso3) == 3 and isinstance(where, list):
            geoms.append(_disc(where[1], where[0], SMALL_COUNTRY_KM))
            codes.append(iso3)
    return World(STRtree(geoms), codes)


async def index_at_start(app: web.Application) -> None:
    """on_startup: build the index before the first alert, without blocking the loop."""
    await asyncio.to_thread(world)


def _in_range(geom: BaseGeometry) -> list[BaseGeometry]:
    """The geometry, plus copies shifted by 360° for the parts lying past ±180."""
    found = [geom]
    minx, _, maxx, _ = geom.bounds
    if maxx > 180:
        found.append(translate(geom, xoff=-360))
    if minx < -180:
        found.append(translate(geom, xoff=360))
    return found


def _wrapped(area: BaseGeometry) -> list[BaseGeometry]:
    """`area`, plus itself shifted by 360° when it reaches past ±180 (an unwrapped
    ring, or a circle near the antimeridian): each copy finds the shapes on its side."""
    copies = [area]
    minx, _, maxx, _ = area.bounds
    if maxx > 180:
        copies.append(translate(area, xoff=-360))
    if minx < -180:
        copies.append(translate(area, xoff=360))
    return copies


def unwrap(lons: np.ndarray) -> np.ndarray:
    """A ring's longitudes made continuous when it crosses the antimeridian (an edge
    jumping more than 180°, as from 179 to -179): the western ones move past 180."""
    if lons.size < 2 or np.max(np.abs(np.diff(lons))) <= 180:
        return lons
    return np.where(lons < 0, lons + 360, lons)


def _disc(lat: float, lon: float, radius_km: float) -> BaseGeometry:
    """A circle of `radius_km` on the ground, as an ellipse in degrees."""
    degrees = radius_km / KM_PER_DEGREE
    widen = 1 / max(math.cos(math.radians(lat)), 0.05)
    return scale(ShapelyPoint(lon, lat).buffer(degrees, quad_segs=16), xfact=widen, yfact=1.0)


def _margin(geom: BaseGeometry, lat: float) -> BaseGeometry:
    degrees = MARGIN_KM / KM_PER_DEGREE
    widen = 1 / max(math.cos(math.radians(lat)), 0.05)
    # Simplified first (by a third of the margin, which still covers what it shaves
    # off): buffering a 2,000-point ring whole cost ~45 ms, simplified ~2 ms.
    simpler = geom.simplify(degrees / 3, preserve_topology=False)
    # Buffered where a degree of longitude is as long as one of latitude, then put
    # back: scaling the buffered area about its centre would widen the area itself
    # (a ring 14° wide at 66°N became 35° wide), not only its margin.
    squared = scale(simpler, xfact=1 / widen, yfact=1.0, origin=(0, 0))
    return scale(squared.buffer(degrees, quad_segs=8), xfact=widen, yfact=1.0, origin=(0, 0))


def countries_of_point(lat: float, lon: float) -> list[str]:
    return world().touched(_disc(lat, lon, MARGIN_KM))


def countries_of_circle(circle: Circle) -> list[str]:
    radius = min(circle.radius_km, MAX_RADIUS_KM) + MARGIN_KM
    return world().touched(_disc(circle.lat, circle.lon, radius))


def countries_of_polygon(points: list[tuple[float, float]]) -> list[str]:
    """`points`: (lat, lon) pairs as CAP writes them, the ring closed."""
    if len(points) < 4:
        return []
    # Through numpy: building a Polygon from 2,000 Python tuples cost ~13 ms.
    lonlat = np.asarray(points, dtype=float)[:, ::-1]
    lonlat[:, 0] = unwrap(lonlat[:, 0])
    polygon: Any = shapely.polygons(lonlat)
    if len(points) > MAX_EXACT_POINTS or not polygon.is_valid:
        # Repairing a large or self-crossing ring can cost minutes (a random 10,000-point
        # ring did): its convex hull is cheap, and at worst names a neighbour too many.
        polygon = polygon.convex_hull
    if polygon.is_empty:
        return []
    return world().touched(_margin(polygon, polygon.centroid.y))


def countries_of(
    location: tuple[float, float] | None,
    polygons: list[list[tuple[float, float]]],
    circles: list[Circle],
) -> list[str]:
    """Every country the alert's point, polygons and circles touch, in that order."""
    found: list[str] = []
    try:
        if location is not None:
            found += countries_of_point(*location)
        for ring in polygons:
            found += countries_of_polygon(ring)
        for circle in circles:
            found += countries_of_circle(circle)
    except GEOSException as exc:  # a shape GEOS cannot work with names no country
        log.warning("alert_area_unreadable", error=str(exc)[:200])
    return list(dict.fromkeys(found))
