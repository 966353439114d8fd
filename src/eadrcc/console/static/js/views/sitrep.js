// The situation report: on screen, printable (print.css), and as CSV or Markdown
// fetched with an Accept header and handed over as a download.
import * as api from '../api.js';
import { h, fill, kpis } from '../dom.js';
import { channel, country, dateTime, label, num, typeName } from '../format.js';

const REFRESH_MS = 1500;

export function mount(main, { id }) {
  const path = `/api/v1/emergencies/${encodeURIComponent(id)}/sitrep`;
  const body = h('div', { class: 'sitrep' }, h('p', { class: 'loading', role: 'status', text: 'Loading…' }));
  const error = h('p', { class: 'field-error', role: 'alert' });
  const save = (accept, ext) => () => api.download(path, accept, `sitrep-${id}.${ext}`)
    .catch((err) => { error.textContent = err.message; });
  main.append(
    h('div', { class: 'page-head no-print' },
      h('a', { href: `#/e/${id}`, class: 'back', text: '← Back to the emergency' }),
      h('div', { class: 'page-actions' },
        h('button', { type: 'button', class: 'primary', text: 'Print', onclick: () => window.print() }),
        h('button', { type: 'button', text: 'Download CSV', onclick: save('text/csv', 'csv') }),
        h('button', { type: 'button', text: 'Download Markdown', onclick: save('text/markdown', 'md') }))),
    error, body);
  let timer = 0;

  async function load() {
    try {
      render(body, await api.get(path));
    } catch (err) {
      error.textContent = err.message;
    }
  }
  load();

  return {
    update(topics) {
      if (topics.has(`e:${id}`) && !timer) timer = setTimeout(() => { timer = 0; load(); }, REFRESH_MS);
    },
    destroy: () => clearTimeout(timer),
  };
}

function render(el, r) {
  const e = r.emergency;
  const s = r.summary;
  fill(el,
    h('header', { class: 'sitrep-head' },
      r.exercise ? h('p', { class: 'badge exercise', text: 'EXERCISE EXERCISE EXERCISE' }) : null,
      h('h2', { class: 'page-title', text: `Situation report: ${e.title}` }),
      h('p', { class: 'page-meta', text: `${label(e.hazard)} · ${e.severity} · ${e.status} · ${e.countries.map(country).join(', ')} · as of ${dateTime(r.as_of)} (event ${r.last_seq})` })),
    kpis([
      ['RFAs', num(s.requests)], ['needs', num(s.needs)], ['fully accepted', num(s.needs_fully_accepted), 'good'],
      ['uncovered', num(s.needs_uncovered), 'bad'], ['offers', num(s.offers)], ['nations', num(s.offering_nations)],
      ['accepted lines', num(s.accepted_lines)], ['delivered lines', num(s.delivered_lines)],
    ]),
    h('h3', { text: 'Outstanding needs' }),
    table(['Priority', 'Requested by', 'Resource', 'Requested', 'Accepted', 'Proposed', 'Still uncovered'],
      r.outstanding.map((n) => [n.priority, country(n.requesting_country), typeName(n.resource_type),
        num(n.requested), num(n.accepted), num(n.proposed), num(n.uncovered_quantity)]), 'Nothing outstanding.'),
    h('h3', { text: 'All needs' }),
    table(['Resource', 'Priority', 'Status', 'Requested', 'Proposed', 'Accepted', 'In transit', 'Delivered', 'Flags'],
      r.needs.map((n) => [typeName(n.resource_type), n.priority, n.status, num(n.requested), num(n.proposed),
        num(n.accepted), num(n.in_transit), num(n.delivered),
        [n.duplicated && 'duplicated', n.uncovered && 'uncovered'].filter(Boolean).join(', ')]), 'No need filed.'),
    h('h3', { text: 'Offers by nation and channel' }),
    table(['Nation', 'Channel', 'Resource', 'Offered', 'Accepted', 'In transit', 'Delivered', 'Withdrawn'],
      r.offers_by_nation.map((o) => [country(o.country), channel(o.channel), typeName(o.resource_type),
        num(o.offered), num(o.accepted), num(o.in_transit), num(o.delivered), num(o.withdrawn)]), 'No offer.'));
}

function table(headings, rows, emptyText) {
  if (!rows.length) return h('p', { class: 'empty', text: emptyText });
  return h('div', { class: 'table-wrap' }, h('table', { class: 'report' },
    h('thead', {}, h('tr', {}, headings.map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((c, i) => h(i === 0 ? 'th' : 'td', i === 0 ? { scope: 'row', text: c } : { text: c })))))));
}
