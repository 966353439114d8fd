// Country shapes (Natural Earth 1:110m, public domain; data/SOURCES.md) drawn as
// SVG in an equirectangular projection centred on the area shown. No tile server.
import { h } from './dom.js';

const DATA = new URL('../data/countries-110m.geo.json', import.meta.url);
const K = 10;
const ASPECT = 1.6; // width:height of .map in console.css // SVG units per degree: keeps path numbers short but precise enough
let world = null;

/** The shapes, fetched once: [{iso3, name, rings: [[[lon, lat], ...]], bbox, centre}]. */
export function loadWorld() {
  world ??= fetch(DATA, { credentials: 'omit' }).then((r) => r.json()).then((geo) => ({
    small: geo.small,
    countries: geo.features.map((f) => {
      const rings = f.geometry.coordinates.flat();
      return { iso3: f.id, name: f.properties.name, centre: f.properties.centre, rings, bbox: bounds(rings.flat()) };
    }),
  }));
  return world;
}

export function centre(w, iso3) {
  const c = w.countries.find((x) => x.iso3 === iso3);
  return c ? c.centre : w.small[iso3] || null;
}

export function bounds(points) {
  let [w, s, e, n] = [180, 90, -180, -90];
  for (const [lon, lat] of points) {
    w = Math.min(w, lon); e = Math.max(e, lon); s = Math.min(s, lat); n = Math.max(n, lat);
  }
  return [w, s, e, n];
}

/** Grow a box by `pad` of its size (at least `min` degrees each way), clamped to the world. */
export function pad([w, s, e, n], ratio = 0.15, min = 2) {
  const dx = Math.max((e - w) * ratio, min);
  const dy = Math.max((n - s) * ratio, min);
  return [Math.max(-180, w - dx), Math.max(-85, s - dy), Math.min(180, e + dx), Math.min(85, n + dy)];
}

/**
 * Draw into `svg`: countries in `box` (classed by `classes[iso3]`), then `lines`
 * [{from:[lon,lat], to:[lon,lat], cls}] and `points` [{at:[lon,lat], cls, title, r}].
 */
export function draw(svg, w, { box, classes = {}, lines = [], points = [], title }) {
  const [west, south, east, north] = fit(box, ASPECT);
  const cos = Math.cos((((south + north) / 2) * Math.PI) / 180);
  const x = (lon) => ((lon - west) * cos * K).toFixed(1);
  const y = (lat) => ((north - lat) * K).toFixed(1);
  const width = (east - west) * cos * K;
  const px = width / 560; // pins keep their size on screen whatever the zoom
  svg.setAttribute('viewBox', `0 0 ${width.toFixed(0)} ${((north - south) * K).toFixed(0)}`);
  svg.setAttribute('preserveAspectRatio', 'xMidYMid meet');
  const shapes = w.countries.filter((c) => overlaps(c.bbox, box)).map((c) => h('svg:path', {
    d: c.rings.map((ring) => 'M' + ring.map(([lon, lat]) => `${x(lon)},${y(lat)}`).join('L') + 'Z').join(''),
    class: `land ${classes[c.iso3] || ''}`,
    dataset: c.iso3 ? { iso3: c.iso3 } : {},
  }, h('svg:title', { text: c.name })));
  const small = Object.entries(w.small).filter(([k]) => k.length === 3 && classes[k])
    .map(([k, [lon, lat]]) => h('svg:circle', { cx: x(lon), cy: y(lat), r: (4 * px).toFixed(1), class: `land ${classes[k]}` }));
  svg.replaceChildren(
    title ? h('svg:title', { text: title }) : null,
    h('svg:rect', { class: 'sea', width: '100%', height: '100%' }),
    ...shapes, ...small,
    ...lines.map((l) => h('svg:line', { x1: x(l.from[0]), y1: y(l.from[1]), x2: x(l.to[0]), y2: y(l.to[1]), class: `route ${l.cls || ''}` })),
    ...points.map((p) => h('svg:circle', { cx: x(p.at[0]), cy: y(p.at[1]), r: ((p.r || 5) * px).toFixed(1), class: `pin ${p.cls || ''}` },
      p.title ? h('svg:title', { text: p.title }) : null)),
  );
}

/** Widen a box (the narrow way) to the drawing's width:height, so no space is wasted. */
function fit([w, s, e, n], aspect) {
  const cos = Math.cos((((s + n) / 2) * Math.PI) / 180);
  const width = (e - w) * cos, height = n - s;
  if (width / height < aspect) {
    const grow = (height * aspect - width) / cos / 2;
    return [w - grow, s, e + grow, n];
  }
  const grow = (width / aspect - height) / 2;
  return [w, s - grow, e, n + grow];
}

function overlaps([w1, s1, e1, n1], [w2, s2, e2, n2]) {
  return w1 <= e2 && e1 >= w2 && s1 <= n2 && n1 >= s2;
}
