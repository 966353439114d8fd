// Offers by nation and channel, each with its items and what became of them; an
// item that may duplicate another offer says so in words.
import { run } from '../actions.js';
import * as api from '../api.js';
import { h, setText, syncList, toggle } from '../dom.js';
import { channel, country, dateTime, label, typeName } from '../format.js';
import { t } from '../i18n.js';
import { can } from '../session.js';

/** A table of `offers` (already filtered), grouped by nation then channel. */
export function offersTable({ caption, showEmergency = false }) {
  const body = h('tbody');
  const empty = h('p', { class: 'empty', text: t('offers.none') });
  // A region that may scroll sideways: focusable, so a keyboard can scroll it too.
  const el = h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': caption }, empty,
    h('table', { class: 'offers stack' },
      h('caption', { class: 'visually-hidden', text: caption }),
      h('thead', {}, h('tr', {},
        ['nation', 'channel', showEmergency ? 'emergency' : null, 'items', 'status', 'offered', 'actions']
          .filter((x) => x !== null).map((k) => h('th', { scope: 'col', text: t(`offers.col_${k}`) })))),
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
  const cell = (cls, key, ...kids) => h('td', { class: cls, 'data-label': t(`offers.col_${key}`) }, ...kids);
  return h('tr', { dataset: { offerId: o.id, country: o.offering_country } },
    h('th', { scope: 'row', class: 'nation' }),
    cell('channel', 'channel'),
    showEmergency ? cell('emergency', 'emergency') : null,
    cell('', 'items', h('ul', { class: 'items' })),
    cell('status', 'status'),
    cell('when', 'offered'),
    cell('actions', 'actions',
      h('button', { type: 'button', class: 'withdraw', text: t('offers.withdraw'), onclick: (e) => withdraw(e, o.id) }),
      h('p', { class: 'action-note', role: 'status' })));
}

function fillRow(tr, o, first, emergencies) {
  setText(tr.querySelector('.nation'), first ? country(o.offering_country) : '');
  tr.querySelector('.nation').dataset.label = country(o.offering_country); // shown when rows stack
  setText(tr.querySelector('.channel'), channel(o.channel));
  const cell = tr.querySelector('.emergency');
  if (cell) {
    const e = emergencies?.get(o.emergency_id);
    setText(cell, e ? (e.exercise ? `${t('common.exercise')} · ${e.title}` : e.title) : o.emergency_id);
  }
  syncList(tr.querySelector('.items'), o.items, (i) => i.id, () => h('li'), (li, i) => {
    toggle(li, 'withdrawn', i.status === 'withdrawn');
    toggle(li, 'duplicate', Boolean(i.possible_duplicate_of));
    li.replaceChildren(t('offers.item', { type: typeName(i.resource_type), allocated: i.allocated, quantity: i.quantity }),
      i.possible_duplicate_of ? h('span', { class: 'flag flag-dup', title: i.possible_duplicate_of, text: t('offers.duplicate') }) : '');
  });
  setText(tr.querySelector('.status'), label(o.status, 'status'));
  toggle(tr, 'withdrawn', o.status === 'withdrawn');
  setText(tr.querySelector('.when'), dateTime(o.created_at));
  tr.querySelector('.withdraw').hidden = o.status !== 'open' || !can('offer.withdraw', [o.offering_country]);
}

async function withdraw(event, id) {
  const button = event.currentTarget;
  if (button.dataset.confirm !== 'yes') {
    button.dataset.confirm = 'yes';
    button.textContent = t('offers.confirm_withdraw');
    button.setAttribute('data-action', 'withdraw');
    return;
  }
  const note = button.parentElement.querySelector('.action-note');
  await run(button, note, () => api.post(`/api/v1/offers/${id}/withdraw`, {}));
}
