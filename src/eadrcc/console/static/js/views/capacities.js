// The capacities register: what nations declared ahead and the teams known from
// public lists, filtered by type, credential, readiness and region, with CSV export.
// #/capacities/NOR is one nation's page (linked from the partner directory).
import * as api from '../api.js';
import { exportCsv, search } from '../capacities.js';
import { h, fill, setText, syncList } from '../dom.js';
import { country, dateTime, num, typeName } from '../format.js';
import { typeSelect } from '../forms.js';
import { t } from '../i18n.js';

const REGIONS = ['NATO', 'EAPC', 'PfP', 'MD', 'ICI', 'PAG'];
const SOURCES = ['declared', 'public'];

export function mount(main, { id: nation }) {
  const type = typeSelect();
  type.required = false;
  type.firstElementChild.textContent = t('capacities.any_type');
  const credential = h('select', {}, h('option', { value: '', text: t('capacities.any_credential') }));
  const ready = h('input', { type: 'number', min: 0, step: 1, placeholder: t('capacities.hours') });
  const region = h('select', {}, h('option', { value: '', text: t('capacities.any_region') }),
    REGIONS.map((r) => h('option', { value: r, text: r })));
  const expired = h('input', { type: 'checkbox', checked: true });
  const controls = [
    ['resource_type', t('capacities.filter.type'), type],
    ['credential', t('capacities.filter.credential'), credential],
    ['ready_within', t('capacities.filter.ready_within'), ready],
    ...(nation ? [] : [['region', t('capacities.filter.region'), region]]),
  ];
  const status = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const csv = h('button', { type: 'button', text: t('capacities.export_csv') });
  const tables = Object.fromEntries(SOURCES.map((s) => [s, h('tbody')]));
  const title = nation ? t('capacities.nation_title', { country: country(nation) }) : t('capacities.title');
  main.append(
    h('div', { class: 'page-head' }, h('h2', { class: 'page-title', text: title }), h('div', { class: 'page-actions' }, csv)),
    h('form', { class: 'filters capacity-filters' },
      controls.map(([name, text, control]) => h('div', { class: 'field inline' },
        h('label', { for: `cap-${name}`, text }), Object.assign(control, { id: `cap-${name}`, name }))),
      h('label', { class: 'check' }, expired, ` ${t('capacities.filter.expired')}`)),
    status,
    ...SOURCES.map((s) => h('section', { class: 'panel', dataset: { source: s } },
      h('h3', { class: 'panel-title', text: t(`capacities.section.${s}`) }),
      h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': t(`capacities.section.${s}`) }, h('table', { class: 'capacities' },
        h('thead', {}, h('tr', {}, ['country', 'type', 'quantity', 'readiness', 'home', 'credentials', 'valid_until', 'source']
          .map((c) => h('th', { scope: 'col', text: t(`capacities.col.${c}`) })))),
        tables[s])))));

  let asked = 0;
  const params = () => {
    const p = { include_expired: String(expired.checked) };
    if (nation) p.country = nation;
    for (const [name, , control] of controls) if (control.value) p[name] = control.value;
    return p;
  };
  async function refresh() {
    const mine = (asked += 1);
    setText(status, t('capacities.loading'));
    try {
      const found = await search(params());
      if (mine !== asked) return; // a newer filter answered first
      for (const s of SOURCES) syncList(tables[s], found.filter((c) => c.source === s), (c) => c.id, row, fillRow);
      setText(status, t('capacities.count', { count: found.length }));
    } catch (err) {
      setText(status, t('capacities.failed', { reason: err.message }));
    }
  }
  for (const control of [type, credential, ready, region, expired]) control.addEventListener('change', refresh);
  csv.addEventListener('click', () => exportCsv(params()).catch((err) => setText(status, err.message)));
  api.get('/api/v1/credentials').then((list) => {
    for (const c of list) credential.append(h('option', { value: c.code, text: c.name }));
  }, () => {});
  refresh();
  return {
    update(topics) {
      if (topics.has('all')) refresh();
    },
  };
}

function row() {
  return h('tr', {}, h('td', { class: 'country' }), h('td', { class: 'type' }), h('td', { class: 'num' }),
    h('td', { class: 'num readiness' }), h('td', { class: 'home' }), h('td', { class: 'credentials' }),
    h('td', { class: 'valid' }), h('td', { class: 'source' }));
}

function fillRow(tr, c) {
  Object.assign(tr.dataset, { country: c.country, type: c.resource_type, source: c.source, expired: c.expired });
  tr.classList.toggle('expired', c.expired);
  const cells = tr.children;
  setText(cells[0], country(c.country));
  setText(cells[1], [typeName(c.resource_type), c.name].filter(Boolean).join(' — '));
  setText(cells[2], num(c.quantity));
  setText(cells[3], t('capacities.hours_value', { hours: num(c.readiness_hours) }));
  setText(cells[4], c.home_base?.place || '—');
  setText(cells[5], c.credentials.join(', ') || '—');
  fill(cells[6], c.valid_until ? dateTime(c.valid_until) : t('capacities.no_expiry'),
    c.expired ? h('span', { class: 'badge expired', text: t('capacities.expired') }) : null);
  fill(cells[7], c.source === 'public'
    ? h('span', { title: c.citation, text: t('capacities.public_read', { date: c.read_on }) })
    : t('capacities.source.declared'));
  cells[7].title = c.citation || '';
}
