// Offers across emergencies: a POC tracks its own (all it can see of its country),
// staff see every offer of the emergencies loaded.
import { h, setText, syncList } from '../dom.js';
import { country, num, typeName } from '../format.js';
import { isPoc, me } from '../session.js';
import { state } from '../store.js';
import { offersTable } from './offers.js';

export function mount(main) {
  const mine = isPoc();
  const table = offersTable({ caption: mine ? 'Our offers' : 'Offers', showEmergency: true });
  const matches = h('ul', { class: 'match-track' });
  const summary = h('p', { class: 'help' });
  main.append(
    h('div', { class: 'page-head' }, h('h2', { class: 'page-title', text: mine ? `Offers from ${country(me().country)}` : 'Offers' })),
    summary,
    h('section', { class: 'panel' }, table.el),
    h('section', { class: 'panel', 'aria-labelledby': 'track-title' },
      h('h3', { id: 'track-title', class: 'panel-title', text: 'What became of them' }), matches));

  function update(topics) {
    if (!topics.has('all') && !topics.has('offers') && !topics.has('matches') && !topics.has('emergencies')) return;
    const offers = [...state.offers.values()].filter((o) => !mine || o.offering_country === me().country);
    table.update(offers, state.emergencies);
    const ours = [...state.matches.values()].filter((m) => !mine || m.offering_country === me().country)
      .filter((m) => m.status !== 'superseded')
      .sort((a, b) => b.updated_at.localeCompare(a.updated_at)).slice(0, 200);
    setText(summary, `${num(offers.length)} offers · ${num(ours.filter((m) => m.status === 'proposed').length)} proposed to a need`
      + ` · ${num(ours.filter((m) => ['accepted', 'in_transit', 'delivered'].includes(m.status)).length)} accepted`);
    syncList(matches, ours, (m) => m.id, () => h('li'), (li, m) => {
      li.className = `track status-${m.status}`;
      li.replaceChildren(h('span', { class: 'badge', text: m.status.replace('_', ' ') }), ' ',
        `${typeName(m.resource_type)} ×${num(m.quantity)} → ${country(m.requesting_country)}`,
        m.dispatched ? ` · dispatched ${num(m.dispatched)}` : '', m.delivered ? ` · delivered ${num(m.delivered)}` : '',
        m.reason ? ` · ${m.reason}` : '');
    });
  }
  return { update };
}
