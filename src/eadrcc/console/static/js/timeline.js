// A timeline in SVG: one lane per series of moments (offers, acceptances, deliveries).
// Axis labels never overlap: as many as fit the width are drawn, and any that would
// still touch its neighbour once measured is dropped.
import { h } from './dom.js';
import { locale, t } from './i18n.js';

const LANE = 30, RIGHT = 16, AXIS = 22, TICK_SPACE = 120, GAP = 8;

/** lanes: [{label, cls, points: [{at: iso, title}]}] */
export function drawTimeline(svg, lanes) {
  // Drawn at the size shown (1 unit = 1 px), so its text is as legible as the page's.
  const W = Math.max(280, Math.round(svg.getBoundingClientRect().width || 600));
  const left = Math.min(150, 16 + 8 * Math.max(...lanes.map((l) => `${l.label} (${l.points.length})`.length)));
  const moments = lanes.flatMap((l) => l.points.map((p) => Date.parse(p.at)));
  const height = lanes.length * LANE + AXIS;
  svg.setAttribute('viewBox', `0 0 ${W} ${height}`);
  if (!moments.length) {
    svg.replaceChildren(h('svg:text', { x: W / 2, y: height / 2, class: 'tl-empty', 'text-anchor': 'middle', text: t('timeline.empty') }));
    return;
  }
  let start = Math.min(...moments), end = Math.max(...moments);
  if (end - start < 60_000) { start -= 30_000; end += 30_000; }
  const x = (time) => (left + ((time - start) / (end - start)) * (W - left - RIGHT)).toFixed(1);
  const count = Math.max(2, Math.min(5, Math.floor((W - left - RIGHT) / TICK_SPACE) + 1));
  const ticks = Array.from({ length: count }, (_, i) => start + (i / (count - 1)) * (end - start));
  const anchor = (i) => (i === 0 ? 'start' : i === count - 1 ? 'end' : 'middle');
  const labels = ticks.map((time, i) => h('svg:text', {
    x: x(time), y: height - 6, class: 'tl-tick', 'text-anchor': anchor(i), text: tick(time, end - start),
  }));
  svg.replaceChildren(
    ...lanes.map((lane, i) => h('svg:g', { class: `tl-lane ${lane.cls}` },
      h('svg:text', { x: 4, y: i * LANE + LANE / 2 + 5, class: 'tl-label', text: `${lane.label} (${lane.points.length})` }),
      h('svg:line', { x1: left, x2: W - RIGHT, y1: i * LANE + LANE / 2, y2: i * LANE + LANE / 2, class: 'tl-track' }),
      lane.points.map((p) => h('svg:circle', { cx: x(Date.parse(p.at)), cy: i * LANE + LANE / 2, r: 6, class: 'tl-dot' },
        h('svg:title', { text: p.title }))))),
    h('svg:text', { x: 4, y: height - 6, class: 'tl-zone', text: t('form.utc') }),
    ...labels,
  );
  dropOverlaps(labels);
}

/** Keep the first and last label; drop any other that comes within GAP px of a kept one. */
function dropOverlaps(labels) {
  if (!labels[0]?.getBBox || !labels[0].isConnected) return;
  const boxes = labels.map((l) => l.getBBox());
  const last = labels.length - 1;
  let previous = boxes[0];
  for (let i = 1; i < last; i += 1) {
    const box = boxes[i];
    if (box.x < previous.x + previous.width + GAP || box.x + box.width + GAP > boxes[last].x) labels[i].remove();
    else previous = box;
  }
  if (last > 0 && boxes[last].x < boxes[0].x + boxes[0].width + GAP) labels[last].remove();
}

function tick(time, span) {
  const options = span < 600_000 ? { hour: '2-digit', minute: '2-digit', second: '2-digit' }
    : span < 2 * 86_400_000 ? { hour: '2-digit', minute: '2-digit' }
      : { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' };
  return new Intl.DateTimeFormat(locale(), { ...options, timeZone: 'UTC', hourCycle: 'h23' }).format(new Date(time));
}
