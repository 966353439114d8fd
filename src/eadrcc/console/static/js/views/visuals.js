// The emergency's pictures: the area map, the offering nations map, the timeline.
import { h } from '../dom.js';
import { country, typeName } from '../format.js';
import { t } from '../i18n.js';
import { bounds, centre, draw, loadWorld, pad } from '../map.js';
import { state } from '../store.js';
import { drawTimeline } from '../timeline.js';

const ALLOCATED = new Set(['accepted', 'in_transit', 'delivered']);

export function visualsPanel() {
  const area = h('svg:svg', { class: 'map', role: 'img', 'aria-labelledby': 'map-area-title' });
  const nations = h('svg:svg', { class: 'map', role: 'img', 'aria-labelledby': 'map-nations-title' });
  const timeline = h('svg:svg', { class: 'timeline', role: 'img', 'aria-labelledby': 'timeline-title' });
  const el = h('section', { class: 'panel visuals' },
    h('figure', { class: 'map-figure' }, h('figcaption', { id: 'map-area-title', text: t('visuals.area') }), area,
      mapLegend([['struck', 'visuals.key_struck'], ['epicentre', 'visuals.key_site'], ['delivery', 'visuals.key_delivery']])),
    h('figure', { class: 'map-figure' }, h('figcaption', { id: 'map-nations-title', text: t('visuals.nations') }), nations,
      mapLegend([['struck', 'visuals.key_struck'], ['offering', 'visuals.key_offering'], ['epicentre', 'visuals.key_site'], ['route', 'visuals.key_route']])),
    h('figure', { class: 'timeline-figure' }, h('figcaption', { id: 'timeline-title', text: t('visuals.timeline') }), timeline),
    h('p', { class: 'source', text: t('visuals.source') }));
  let lastKey = '';

  async function update(e, requests, offers, matches) {
    drawTimeline(timeline, [
      { label: t('visuals.lane_offers'), cls: 'lane-offers', points: offers.map((o) => ({ at: o.created_at, title: t('visuals.offered', { country: country(o.offering_country) }) })) },
      { label: t('visuals.lane_accepted'), cls: 'lane-accepted', points: matches.filter((m) => ALLOCATED.has(m.status))
        .map((m) => ({ at: m.updated_at, title: t('proposals.what', { type: typeName(m.resource_type), quantity: m.quantity, country: country(m.offering_country) }) })) },
      { label: t('visuals.lane_delivered'), cls: 'lane-delivered', points: matches.filter((m) => m.delivered > 0)
        .map((m) => ({ at: m.updated_at, title: t('visuals.delivered', { quantity: m.delivered, country: country(m.offering_country) }) })) },
    ]);
    const offering = [...new Set(offers.map((o) => o.offering_country))].sort();
    const places = requests.flatMap((r) => r.needIds.map((id) => state.needs.get(id)?.delivery).filter(Boolean));
    const key = JSON.stringify([e.id, e.countries, offering, places.length]);
    if (key === lastKey) return; // maps change only when nations or places do
    lastKey = key;
    const world = await loadWorld();
    drawArea(area, world, e, places);
    drawNations(nations, world, e, offering);
  }
  return { el, update };
}

/** The key under a map: what each colour and mark means. */
function mapLegend(entries) {
  return h('p', { class: 'legend map-legend' }, entries.map(([cls, key]) =>
    h('span', { class: 'legend-item' }, h('span', { class: `swatch key-${cls}` }), t(key))));
}

function drawArea(svg, world, e, places) {
  const struck = world.countries.filter((c) => e.countries.includes(c.iso3));
  const points = [[e.location.lon, e.location.lat], ...places.map((p) => [p.lon, p.lat])];
  const box = pad(bounds([...points, ...struck.flatMap((c) => [[c.bbox[0], c.bbox[1]], [c.bbox[2], c.bbox[3]]])]), 0.08, 1);
  const classes = Object.fromEntries(e.countries.map((c) => [c, 'struck']));
  draw(svg, world, {
    box,
    classes,
    title: `${e.title}: ${e.countries.map(country).join(', ')}`,
    points: [
      ...places.map((p) => ({ at: [p.lon, p.lat], cls: 'delivery', r: 4, title: p.place || t('visuals.key_delivery') })),
      { at: [e.location.lon, e.location.lat], cls: 'epicentre', r: 7, title: t('visuals.key_site') },
    ],
  });
}

function drawNations(svg, world, e, offering) {
  const site = [e.location.lon, e.location.lat];
  const from = offering.map((c) => [c, centre(world, c)]).filter(([, at]) => at);
  const box = pad(bounds([site, ...from.map(([, at]) => at)]), 0.1, 6);
  const classes = Object.fromEntries(offering.map((c) => [c, 'offering']));
  for (const c of e.countries) classes[c] = 'struck';
  draw(svg, world, {
    box,
    classes,
    title: offering.length ? t('visuals.offers_from', { countries: offering.map(country).join(', ') }) : t('offers.none'),
    lines: from.map(([, at]) => ({ from: at, to: site })),
    points: [{ at: site, cls: 'epicentre', r: 6, title: t('visuals.key_site') }],
  });
}
