// Offers by nation and channel, each with its items and what became of them.
import * as api from '../api.js';
import { h, setText, syncList, toggle } from '../dom.js';
import { channel, country, dateTime, num, typeName } from '../format.js';
import { can } from '../session.js';

/** A table of `offers` (already filtered), grouped by nation then channel. */
export function offersTable({ caption, showEmergency = false }) {
  const body = h('tbody');
  const empty = h('p', { class: 'empty', text: 'No offer yet.' });
  const el = h('div', { class: 'table-wrap' }, empty,
    h('table', { class: 'offers' },
      h('caption', { class: 'visually-hidden', text: caption }),
      h('thead', {}, h('tr', {},
        ['Nation', 'Channel', showEmergency ? 'Emergency' : null, 'Items (accepted / offered)', 'Status', 'Offered', '']
          .filter((x) => x !== null).map((t) => h('th', { scope: 'col', text: t })))),
      body));

  function update(offers, emergencies) {
    const sorted = [...offers].sort((a, b) => country(a.offering_country).localeCompare(country(b.offering_country))
      || a.channel.localeCompare(b.channel) || a.created_at.localeCompare(b.created_at));
    empty.hidden = sorted.length > 0;
    let previous = '';
    syncList(body, sorted, (o) => o.id, (o) => row(o, showEmergency), (tr, o) => {
      const group = `${o.offering_country}:${o.channel}`;
      toggle(tr, 'group-start', group !== previous);
      fillRow(tr, o, group !== previous, emergencies);
      previous = group;
    });
  }
  return { el, update };
}

function row(o, showEmergency) {
  return h('tr', { dataset: { offerId: o.id, country: o.offering_country } },
    h('th', { scope: 'row', class: 'nation' }),
    h('td', { class: 'channel' }),
    showEmergency ? h('td', { class: 'emergency' }) : null,
    h('td', {}, h('ul', { class: 'items' })),
    h('td', { class: 'status' }),
    h('td', { class: 'when' }),
    h('td', { class: 'actions' }, h('button', { type: 'button', class: 'withdraw', text: 'Withdraw', onclick: (e) => withdraw(e, o.id) })));
}

function fillRow(tr, o, first, emergencies) {
  setText(tr.querySelector('.nation'), first ? country(o.offering_country) : '');
  setText(tr.querySelector('.channel'), channel(o.channel));
  const cell = tr.querySelector('.emergency');
  if (cell) setText(cell, emergencies?.get(o.emergency_id)?.title || o.emergency_id);
  syncList(tr.querySelector('.items'), o.items, (i) => i.id, () => h('li'), (li, i) => {
    toggle(li, 'withdrawn', i.status === 'withdrawn');
    setText(li, `${typeName(i.resource_type)}: ${num(i.allocated)} / ${num(i.quantity)}`
      + (i.possible_duplicate_of ? ' · possible duplicate' : ''));
  });
  setText(tr.querySelector('.status'), o.status);
  toggle(tr, 'withdrawn', o.status === 'withdrawn');
  setText(tr.querySelector('.when'), dateTime(o.created_at));
  tr.querySelector('.withdraw').hidden = o.status !== 'open' || !can('offer.withdraw', [o.offering_country]);
}

async function withdraw(event, id) {
  const button = event.currentTarget;
  if (button.dataset.confirm !== 'yes') {
    button.dataset.confirm = 'yes';
    button.textContent = 'Confirm withdrawal';
    return;
  }
  button.disabled = true;
  try {
    await api.post(`/api/v1/offers/${id}/withdraw`, {});
  } catch (err) {
    button.textContent = `Failed: ${err.message}`;
  } finally {
    button.disabled = false;
  }
}
