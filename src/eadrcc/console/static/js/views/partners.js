// The partner directory: status, frameworks, programme participation, 24/7 contacts.
import { h, setText, syncList } from '../dom.js';
import { dateTime, label } from '../format.js';
import { t } from '../i18n.js';
import { state } from '../store.js';
import { loadChannels } from '../loader.js';

const COLUMNS = ['code', 'name', 'status', 'frameworks', 'programmes', 'contacts', 'capacities', 'channel'];

export function mount(main) {
  const filter = h('input', { type: 'search', id: 'partner-filter', placeholder: t('partners.filter_hint') });
  const count = h('span', { class: 'count' });
  const body = h('tbody');
  main.append(
    h('div', { class: 'page-head' },
      h('h2', { class: 'page-title' }, t('partners.title'), ' ', count),
      h('div', { class: 'field inline' }, h('label', { for: 'partner-filter', text: t('partners.filter') }), filter)),
    h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': t('partners.title') }, h('table', { class: 'partners stack' },
      h('thead', {}, h('tr', {}, COLUMNS.map((k) => h('th', { scope: 'col', text: t(`partners.col_${k}`) })))),
      body)));
  filter.addEventListener('input', () => update(new Set(['partners'])));
  loadChannels().catch(() => {}); // integrations may not read them: the column stays empty

  function update(topics) {
    if (!topics.has('all') && !topics.has('partners')) return;
    const words = filter.value.trim().toLowerCase();
    const all = [...state.partners.values()].sort((a, b) => a.name.localeCompare(b.name));
    const shown = all.filter((p) => !words || [p.code, p.name, ...p.programmes.map((x) => x.code), ...p.frameworks]
      .some((s) => s.toLowerCase().includes(words)));
    setText(count, t('partners.count', { shown: shown.length, count: all.length }));
    syncList(body, shown, (p) => p.code, partnerRow, fillPartner);
  }
  return { update };
}

function partnerRow() {
  const cell = (cls, key, ...kids) => h('td', { class: cls, 'data-label': t(`partners.col_${key}`) }, ...kids);
  return h('tr', {}, cell('code', 'code'), h('th', { scope: 'row', class: 'name' }), cell('pstatus', 'status'),
    cell('frameworks', 'frameworks'), cell('', 'programmes', h('ul', { class: 'chips' })), cell('', 'contacts', h('ul', { class: 'contacts' })),
    cell('', 'capacities', h('a', { class: 'capacities-link' })), cell('channel', 'channel'));
}

function fillPartner(tr, p) {
  setText(tr.querySelector('.code'), p.code);
  setText(tr.querySelector('.name'), p.name);
  setText(tr.querySelector('.pstatus'), t(p.status === 'ally' ? 'partners.ally' : 'partners.partner'));
  setText(tr.querySelector('.frameworks'), p.frameworks.join(', '));
  const link = tr.querySelector('.capacities-link'); // the nation's declared and known capacities
  link.href = `#/capacities/${p.code}`;
  setText(link, t('capacities.of_nation'));
  syncList(tr.querySelector('.chips'), p.programmes, (x) => x.code, () => h('li', { class: 'chip' }), (li, x) => {
    setText(li, x.status === 'active' ? x.code : `${x.code} (${label(x.status, 'programme')})`);
    li.title = [x.code, label(x.status, 'programme'), x.since && t('partners.since', { since: x.since })].filter(Boolean).join(' · ');
  });
  fillChannel(tr.querySelector('.channel'), state.channels.get(p.code));
  const contacts = [...p.contacts].sort((a, b) => Number(is247(b)) - Number(is247(a)));
  syncList(tr.querySelector('.contacts'), contacts, (c) => `${c.role}|${c.organisation}`, () => h('li'), (li, c) => {
    li.replaceChildren(
      is247(c) ? h('span', { class: 'badge h24', text: '24/7' }) : null, ' ',
      h('strong', { text: c.organisation || c.role }), ` — ${c.role}`,
      ...[c.name, c.phone, c.email].filter(Boolean).map((x) => ` · ${x}`),
      !c.phone && !c.email ? h('span', { class: 'muted', text: ` · ${t('partners.unverified')}` }) : null);
  });
}

const is247 = (c) => /24\s*\/\s*7|24h|24 hours/i.test(`${c.hours || ''} ${c.role}`);

/** Whether the duty officer can count on the nation's channel, or must telephone. */
function fillChannel(td, c) {
  if (!c) return setText(td, '');
  td.dataset.state = c.working ? 'working' : c.failing_since ? 'failing' : c.suspended ? 'suspended' : 'none';
  if (c.failing_since) setText(td, t('channel.failing', { since: dateTime(c.failing_since) }));
  else if (c.working) setText(td, t('channel.working', { when: dateTime(c.last_success_at) }));
  else if (c.suspended) setText(td, t('channel.suspended'));
  else setText(td, t('channel.none'));
}
