// A need's fill bar: delivered | in transit | accepted | proposed, against a marker
// at the requested quantity; the scale grows past it when offers over-cover.
import { h, setAttr } from './dom.js';
import { t } from './i18n.js';

const SEGMENTS = ['delivered', 'transit', 'accepted', 'proposed'];

export function bar() {
  return h('div', { class: 'bar', role: 'img' },
    SEGMENTS.map((name) => h('span', { class: `seg seg-${name}` })),
    h('span', { class: 'req-marker' }));
}

export function updateBar(el, p) {
  // accepted, in transit and delivered are disjoint (accepted: not yet moving).
  const parts = [p.delivered, p.in_transit, p.accepted, p.proposed];
  const scale = Math.max(p.requested, p.delivered + p.in_transit + p.accepted + p.proposed, 1);
  const segments = el.children;
  parts.forEach((value, i) => width(segments[i], (100 * value) / scale));
  segments[4].style.left = `${Math.min(100, (100 * p.requested) / scale)}%`;
  setAttr(el, 'aria-label', describe(p));
  setAttr(el, 'title', describe(p));
}

function width(el, pct) {
  const value = `${pct.toFixed(2)}%`;
  if (el.style.width !== value) el.style.width = value; // CSSOM: allowed by the CSP
}

export function describe(p) {
  return t('bar.describe', {
    requested: p.requested, proposed: p.proposed, accepted: p.accepted, transit: p.in_transit, delivered: p.delivered,
  });
}

/** The key under the bars. */
export function legend() {
  return h('p', { class: 'legend' },
    ['delivered', 'transit', 'accepted', 'proposed']
      .map((cls) => h('span', { class: 'legend-item' }, h('span', { class: `swatch seg-${cls}` }), t(`bar.${cls}`))),
    h('span', { class: 'legend-item' }, h('span', { class: 'swatch swatch-marker' }), t('bar.requested')));
}
