// Offers across emergencies: a POC tracks its own (all it can see of its country),
// staff see every offer of the emergencies loaded.
import { h, setText, syncList } from '../dom.js';
import { country, dateTime, label, typeName } from '../format.js';
import { t } from '../i18n.js';
import { isPoc, me } from '../session.js';
import { state } from '../store.js';
import { offersTable } from './offers.js';

export function mount(main) {
  const mine = isPoc();
  const table = offersTable({ caption: t(mine ? 'nav.our_offers' : 'nav.offers'), showEmergency: true });
  const matches = h('ul', { class: 'match-track' });
  const summary = h('p', { class: 'help' });
  main.append(
    h('div', { class: 'page-head' }, h('h2', { class: 'page-title', text: mine ? t('myoffers.title_poc', { country: country(me().country) }) : t('nav.offers') })),
    summary,
    h('section', { class: 'panel' }, table.el),
    h('section', { class: 'panel', 'aria-labelledby': 'track-title' },
      h('h3', { id: 'track-title', class: 'panel-title', text: t('myoffers.track') }), matches));

  function update(topics) {
    if (!topics.has('all') && !topics.has('offers') && !topics.has('matches') && !topics.has('emergencies')) return;
    const offers = [...state.offers.values()].filter((o) => !mine || o.offering_country === me().country);
    table.update(offers, state.emergencies);
    const ours = [...state.matches.values()].filter((m) => !mine || m.offering_country === me().country)
      .filter((m) => m.status !== 'superseded')
      .sort((a, b) => b.updated_at.localeCompare(a.updated_at)).slice(0, 200);
    setText(summary, t(mine ? 'myoffers.summary_poc' : 'myoffers.summary', {
      offers: offers.length,
      proposed: ours.filter((m) => m.status === 'proposed').length,
      accepted: ours.filter((m) => ['accepted', 'in_transit', 'delivered'].includes(m.status)).length,
    }));
    syncList(matches, ours, (m) => m.id, () => h('li'), (li, m) => {
      li.className = `track status-${m.status}`;
      const e = state.emergencies.get(m.emergency_id);
      li.replaceChildren(
        e?.exercise ? h('span', { class: 'badge exercise', text: t('common.exercise') }) : null, ' ',
        h('span', { class: 'badge', text: label(m.status, 'match') }), ' ',
        t('myoffers.line', { type: typeName(m.resource_type), quantity: m.quantity, country: country(m.requesting_country) }),
        e ? ` · ${e.title}` : '',
        m.dispatched ? ` · ${t('myoffers.dispatched', { quantity: m.dispatched })}` : '',
        m.eta && m.delivered < m.quantity && m.dispatched ? ` · ${t('common.eta', { time: dateTime(m.eta) })}` : '',
        m.delivered ? ` · ${t('myoffers.delivered', { quantity: m.delivered })}` : '',
        m.reason ? ` · ${m.reason}` : '');
    });
  }
  return { update };
}
