// Match proposals, best score first, with accept (all or part) and decline.
import * as api from '../api.js';
import { h, setText, syncList } from '../dom.js';
import { country, label, num, typeName } from '../format.js';
import { can } from '../session.js';
import { emergencyMatches, state } from '../store.js';

const SHOW = 150;

export function proposalsPanel() {
  const list = h('ol', { class: 'proposals' });
  const note = h('p', { class: 'help' });
  const el = h('section', { class: 'panel', 'aria-labelledby': 'proposals-title' },
    h('h3', { id: 'proposals-title', class: 'panel-title', text: 'Match proposals' }), note, list);

  function update(emergencyId) {
    const all = emergencyMatches(emergencyId).filter((m) => m.status === 'proposed')
      .sort((a, b) => b.score - a.score || a.id.localeCompare(b.id));
    setText(note, all.length === 0 ? 'No open proposal.'
      : all.length > SHOW ? `Showing the best ${SHOW} of ${num(all.length)}.` : `${num(all.length)} open, best score first.`);
    syncList(list, all.slice(0, SHOW), (m) => m.id, proposal, fillProposal);
  }
  return { el, update };
}

function proposal(m) {
  const qty = h('input', { type: 'number', min: 1, step: 1, class: 'qty', 'aria-label': 'Quantity to accept' });
  const reason = h('input', { type: 'text', class: 'reason', 'aria-label': 'Reason for declining', placeholder: 'Reason for declining' });
  const error = h('p', { class: 'field-error', role: 'alert' });
  const row = h('li', { class: 'proposal', dataset: { matchId: m.id } },
    h('span', { class: 'score', title: 'Score (higher is a better fit)' }),
    h('div', { class: 'proposal-what' }, h('strong', { class: 'proposal-title' }), h('span', { class: 'proposal-to' })),
    h('div', { class: 'proposal-actions' },
      h('label', { class: 'qty-label' }, 'Qty ', qty),
      h('button', { type: 'button', class: 'primary accept', text: 'Accept', onclick: () => act(row, 'accept') }),
      h('button', { type: 'button', class: 'decline', text: 'Decline', onclick: () => act(row, 'decline') }),
      h('span', { class: 'decline-box', hidden: true }, reason,
        h('button', { type: 'button', class: 'danger confirm-decline', text: 'Confirm decline', onclick: () => act(row, 'confirm') }))),
    h('span', { class: 'awaiting' }),
    error);
  return row;
}

function fillProposal(row, m) {
  setText(row.querySelector('.score'), m.score.toFixed(2));
  setText(row.querySelector('.proposal-title'),
    `${typeName(m.resource_type)} ×${num(m.quantity)} from ${country(m.offering_country)}`);
  const need = state.needs.get(m.need_id);
  setText(row.querySelector('.proposal-to'),
    ` → ${country(m.requesting_country)}: ${need ? `${typeName(need.resource_type)}${need.delivery?.place ? ` at ${need.delivery.place}` : ''}, ${need.priority}` : 'need'}`
    + (m.score_parts ? ` · ${Object.entries(m.score_parts).map(([k, v]) => `${label(k)} ${v.toFixed(2)}`).join(', ')}` : ''));
  const qty = row.querySelector('.qty');
  qty.max = m.quantity;
  if (!qty.value || Number(qty.value) > m.quantity || document.activeElement !== qty) qty.value = m.quantity;
  const allowed = can('match.decide', [m.requesting_country]);
  row.querySelector('.proposal-actions').hidden = !allowed;
  setText(row.querySelector('.awaiting'), allowed ? '' : `Awaiting ${country(m.requesting_country)}'s decision`);
}

async function act(row, what) {
  const id = row.dataset.matchId;
  const error = row.querySelector('.field-error');
  const box = row.querySelector('.decline-box');
  error.textContent = '';
  if (what === 'decline') {
    box.hidden = false;
    return box.querySelector('input').focus();
  }
  const buttons = row.querySelectorAll('button');
  try {
    buttons.forEach((b) => { b.disabled = true; });
    if (what === 'accept') {
      const quantity = Number(row.querySelector('.qty').value);
      const m = state.matches.get(id);
      if (!Number.isInteger(quantity) || quantity < 1 || quantity > m.quantity) {
        throw new Error(`Enter a whole number from 1 to ${m.quantity}.`);
      }
      await api.post(`/api/v1/matches/${id}/accept`, quantity === m.quantity ? {} : { quantity });
    } else {
      const reason = box.querySelector('input').value.trim();
      if (!reason) throw new Error('Say why (the offering nation will read it).');
      await api.post(`/api/v1/matches/${id}/decline`, { reason });
    }
  } catch (err) {
    error.textContent = err.message;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}
