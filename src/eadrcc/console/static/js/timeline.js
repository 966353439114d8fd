// A timeline in SVG: one lane per series of moments (offers, acceptances, deliveries).
import { h } from './dom.js';

const LANE = 30, LEFT = 104, RIGHT = 16, AXIS = 22;

/** lanes: [{label, cls, points: [{at: iso, title}]}] */
export function drawTimeline(svg, lanes) {
  // Drawn at the size shown (1 unit = 1 px), so its text is as legible as the page's.
  const W = Math.max(300, Math.round(svg.getBoundingClientRect().width || 600));
  const moments = lanes.flatMap((l) => l.points.map((p) => Date.parse(p.at)));
  const height = lanes.length * LANE + AXIS;
  svg.setAttribute('viewBox', `0 0 ${W} ${height}`);
  if (!moments.length) {
    svg.replaceChildren(h('svg:text', { x: W / 2, y: height / 2, class: 'tl-empty', 'text-anchor': 'middle', text: 'Nothing offered yet' }));
    return;
  }
  let start = Math.min(...moments), end = Math.max(...moments);
  if (end - start < 60_000) { start -= 30_000; end += 30_000; }
  const x = (t) => (LEFT + ((t - start) / (end - start)) * (W - LEFT - RIGHT)).toFixed(1);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => start + f * (end - start));
  svg.replaceChildren(
    ...lanes.map((lane, i) => h('svg:g', { class: `tl-lane ${lane.cls}` },
      h('svg:text', { x: 4, y: i * LANE + LANE / 2 + 5, class: 'tl-label', text: `${lane.label} (${lane.points.length})` }),
      h('svg:line', { x1: LEFT, x2: W - RIGHT, y1: i * LANE + LANE / 2, y2: i * LANE + LANE / 2, class: 'tl-track' }),
      lane.points.map((p) => h('svg:circle', { cx: x(Date.parse(p.at)), cy: i * LANE + LANE / 2, r: 6, class: 'tl-dot' },
        h('svg:title', { text: p.title }))))),
    ...ticks.map((t, i) => h('svg:text', {
      x: x(t), y: height - 6, class: 'tl-tick', 'text-anchor': ['start', 'middle', 'middle', 'middle', 'end'][i], text: tick(t, end - start),
    })),
  );
}

function tick(t, span) {
  const iso = new Date(t).toISOString();
  if (span < 600_000) return iso.slice(11, 19);
  if (span < 2 * 86_400_000) return `${iso.slice(11, 16)}Z`;
  return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
}
