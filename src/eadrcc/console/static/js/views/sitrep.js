// The situation report: on screen, printable (print.css: every column, exercises
// marked), and as CSV or Markdown fetched with an Accept header as a download.
import * as api from '../api.js';
import { h, fill, kpis } from '../dom.js';
import { channel, country, dateTime, label, num, typeName } from '../format.js';
import { t } from '../i18n.js';

const REFRESH_MS = 1500;

export function mount(main, { id }) {
  const path = `/api/v1/emergencies/${encodeURIComponent(id)}/sitrep`;
  const body = h('div', { class: 'sitrep' }, h('p', { class: 'loading', role: 'status', text: t('common.loading') }));
  const error = h('p', { class: 'field-error', role: 'alert' });
  const save = (accept, ext) => () => api.download(path, accept, `sitrep-${id}.${ext}`)
    .catch((err) => { error.textContent = err.message; });
  main.append(
    h('div', { class: 'page-head no-print' },
      h('a', { href: `#/e/${id}`, class: 'back', text: t('common.back') }),
      h('div', { class: 'page-actions' },
        h('button', { type: 'button', class: 'primary', text: t('sitrep.print'), onclick: () => window.print() }),
        h('button', { type: 'button', text: t('sitrep.csv'), onclick: save('text/csv', 'csv') }),
        h('button', { type: 'button', text: t('sitrep.markdown'), onclick: save('text/markdown', 'md') }))),
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

function flags(n) {
  return [n.late && t('flag.late'), n.at_risk && t('flag.at_risk'), n.duplicated && t('flag.duplicated'),
    n.uncovered && t('sitrep.uncovered')].filter(Boolean).join(', ');
}

function render(el, r) {
  const e = r.emergency;
  const s = r.summary;
  const byName = (a, b) => country(a.country).localeCompare(country(b.country)) || a.channel.localeCompare(b.channel)
    || typeName(a.resource_type).localeCompare(typeName(b.resource_type));
  fill(el,
    h('header', { class: 'sitrep-head' },
      r.exercise || e.exercise ? h('p', { class: 'badge exercise', text: t('sitrep.exercise') }) : null,
      h('h2', { class: 'page-title', text: t('sitrep.title', { title: e.title }) }),
      h('p', { class: 'page-meta', text: [label(e.hazard, 'hazard'), label(e.severity, 'severity'), label(e.status, 'status'),
        e.countries.map(country).join(', '), t('sitrep.as_of', { time: dateTime(r.as_of), seq: r.last_seq })].join(' · ') })),
    kpis([
      [t('sitrep.k_rfas'), s.requests], [t('kpi.needs'), s.needs], [t('kpi.fully_accepted'), s.needs_fully_accepted, 'good'],
      [t('kpi.uncovered'), s.needs_uncovered, 'bad'],
      ...(s.needs_late !== undefined ? [[t('kpi.late'), s.needs_late, 'bad']] : []),
      ...(s.needs_at_risk !== undefined ? [[t('kpi.at_risk'), s.needs_at_risk, 'warn']] : []),
      ...(s.needs_duplicated !== undefined ? [[t('kpi.duplicated'), s.needs_duplicated, 'warn']] : []),
      [t('kpi.offers'), s.offers], [t('kpi.nations'), s.offering_nations],
      [t('sitrep.k_accepted'), s.accepted_lines], [t('sitrep.k_delivered'), s.delivered_lines],
    ]),
    h('h3', { text: t('sitrep.outstanding') }),
    table(t('sitrep.outstanding'), ['priority', 'requested_by', 'resource', 'requested', 'accepted', 'proposed', 'uncovered', 'flags'],
      r.outstanding.map((n) => [label(n.priority, 'priority'), country(n.requesting_country), typeName(n.resource_type),
        num(n.requested), num(n.accepted), num(n.proposed), num(n.uncovered_quantity), flags(n)]), t('sitrep.none_outstanding')),
    h('h3', { text: t('sitrep.all_needs') }),
    table(t('sitrep.all_needs'), ['resource', 'priority', 'status', 'needed_by', 'requested', 'proposed', 'accepted', 'in_transit', 'delivered', 'flags'],
      r.needs.map((n) => [typeName(n.resource_type), label(n.priority, 'priority'), label(n.status, 'status'),
        n.needed_by ? dateTime(n.needed_by) : '—', num(n.requested), num(n.proposed),
        num(n.accepted), num(n.in_transit), num(n.delivered), flags(n)]), t('sitrep.no_need')),
    h('h3', { text: t('emergency.offers_title') }),
    table(t('emergency.offers_title'), ['nation', 'channel', 'resource', 'offered', 'accepted', 'in_transit', 'delivered', 'withdrawn'],
      [...r.offers_by_nation].sort(byName).map((o) => [country(o.country), channel(o.channel), typeName(o.resource_type),
        num(o.offered), num(o.accepted), num(o.in_transit), num(o.delivered), num(o.withdrawn)]), t('offers.none')));
}

function table(name, columns, rows, emptyText) {
  if (!rows.length) return h('p', { class: 'empty', text: emptyText });
  // A region that may scroll sideways: focusable, so a keyboard can scroll it too.
  return h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': name }, h('table', { class: 'report stack' },
    h('thead', {}, h('tr', {}, columns.map((k) => h('th', { scope: 'col', text: t(`sitrep.col_${k}`) })))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((c, i) => h(i === 0 ? 'th' : 'td',
      i === 0 ? { scope: 'row', text: c } : { text: c, 'data-label': t(`sitrep.col_${columns[i]}`) })))))));
}
