// The partner directory: status, frameworks, programme participation, 24/7 contacts.
import { h, setText, syncList } from '../dom.js';
import { t } from '../i18n.js';
import { state } from '../store.js';

export function mount(main) {
  const filter = h('input', { type: 'search', id: 'partner-filter', placeholder: 'Name, code or programme (e.g. OCC)' });
  const count = h('span', { class: 'count' });
  const body = h('tbody');
  main.append(
    h('div', { class: 'page-head' },
      h('h2', { class: 'page-title' }, 'Partner directory ', count),
      h('div', { class: 'field inline' }, h('label', { for: 'partner-filter', text: 'Filter' }), filter)),
    h('div', { class: 'table-wrap' }, h('table', { class: 'partners' },
      h('thead', {}, h('tr', {}, ['Code', 'Name', 'Status', 'Frameworks', 'Programmes', '24/7 contacts', t('capacities.title')]
        .map((t) => h('th', { scope: 'col', text: t })))),
      body)));
  filter.addEventListener('input', () => update(new Set(['partners'])));

  function update(topics) {
    if (!topics.has('all') && !topics.has('partners')) return;
    const words = filter.value.trim().toLowerCase();
    const all = [...state.partners.values()].sort((a, b) => a.name.localeCompare(b.name));
    const shown = all.filter((p) => !words || [p.code, p.name, ...p.programmes.map((x) => x.code), ...p.frameworks]
      .some((s) => s.toLowerCase().includes(words)));
    setText(count, `(${shown.length} of ${all.length})`);
    syncList(body, shown, (p) => p.code, partnerRow, fillPartner);
  }
  return { update };
}

function partnerRow() {
  return h('tr', {}, h('td', { class: 'code' }), h('th', { scope: 'row', class: 'name' }), h('td', { class: 'pstatus' }),
    h('td', { class: 'frameworks' }), h('td', {}, h('ul', { class: 'chips' })), h('td', {}, h('ul', { class: 'contacts' })),
    h('td', {}, h('a', { class: 'capacities-link' })));
}

function fillPartner(tr, p) {
  setText(tr.querySelector('.code'), p.code);
  setText(tr.querySelector('.name'), p.name);
  setText(tr.querySelector('.pstatus'), p.status === 'ally' ? 'Ally' : 'Partner');
  setText(tr.querySelector('.frameworks'), p.frameworks.join(', '));
  const link = tr.querySelector('.capacities-link'); // the nation's declared and known capacities
  link.href = `#/capacities/${p.code}`;
  setText(link, t('capacities.of_nation'));
  syncList(tr.querySelector('.chips'), p.programmes, (x) => x.code, () => h('li', { class: 'chip' }), (li, x) => {
    setText(li, x.status === 'active' ? x.code : `${x.code} (${x.status})`);
    li.title = [x.code, x.status, x.since && `since ${x.since}`].filter(Boolean).join(' · ');
  });
  const contacts = [...p.contacts].sort((a, b) => Number(is247(b)) - Number(is247(a)));
  syncList(tr.querySelector('.contacts'), contacts, (c) => `${c.role}|${c.organisation}`, () => h('li'), (li, c) => {
    li.replaceChildren(
      is247(c) ? h('span', { class: 'badge h24', text: '24/7' }) : null, ' ',
      h('strong', { text: c.organisation || c.role }), ` — ${c.role}`,
      ...[c.name, c.phone, c.email].filter(Boolean).map((x) => ` · ${x}`),
      !c.phone && !c.email ? h('span', { class: 'muted', text: ' · phone/e-mail not yet verified' }) : null);
  });
}

const is247 = (c) => /24\s*\/\s*7|24h|24 hours/i.test(`${c.hours || ''} ${c.role}`);
