// Match proposals, best score first, with accept (all or part) and decline. A need
// that is already over-covered says so on the proposal: that is where the decision
// is made.
import { run } from '../actions.js';
import * as api from '../api.js';
import { h, setText, syncList, toggle } from '../dom.js';
import { country, dateTime, decimal, label, typeName } from '../format.js';
import { t } from '../i18n.js';
import { can } from '../session.js';
import { emergencyMatches, picture, state } from '../store.js';

const SHOW = 150;

export function proposalsPanel() {
  const list = h('ol', { class: 'proposals' });
  const note = h('p', { class: 'help' });
  const el = h('section', { class: 'panel', 'aria-labelledby': 'proposals-title' },
    h('h3', { id: 'proposals-title', class: 'panel-title', text: t('proposals.title') }), note, list);

  function update(emergencyId) {
    const all = emergencyMatches(emergencyId).filter((m) => m.status === 'proposed')
      .sort((a, b) => b.score - a.score || a.id.localeCompare(b.id));
    setText(note, all.length === 0 ? t('proposals.none')
      : all.length > SHOW ? t('proposals.showing', { shown: SHOW, count: all.length }) : t('proposals.count', { count: all.length }));
    syncList(list, all.slice(0, SHOW), (m) => m.id, proposal, fillProposal);
  }
  return { el, update };
}

function proposal(m) {
  const qty = h('input', { type: 'text', inputmode: 'numeric', class: 'qty', 'aria-label': t('proposals.qty_label') });
  const reason = h('input', { type: 'text', class: 'reason', 'aria-label': t('proposals.reason'), placeholder: t('proposals.reason') });
  const row = h('li', { class: 'proposal', dataset: { matchId: m.id } },
    h('span', { class: 'score', title: t('proposals.score') }),
    h('div', { class: 'proposal-what' },
      h('strong', { class: 'proposal-title' }),
      h('span', { class: 'proposal-to' }),
      h('span', { class: 'flag flag-dup', hidden: true })),
    h('div', { class: 'proposal-actions' },
      h('label', { class: 'qty-label' }, t('proposals.qty'), ' ', qty),
      h('button', { type: 'button', class: 'primary accept', 'data-action': 'accept', text: t('proposals.accept'), onclick: () => act(row, 'accept') }),
      h('button', { type: 'button', class: 'decline', text: t('proposals.decline'), onclick: () => act(row, 'decline') }),
      h('span', { class: 'decline-box', hidden: true }, reason,
        h('button', { type: 'button', class: 'danger confirm-decline', 'data-action': 'decline', text: t('proposals.confirm_decline'), onclick: () => act(row, 'confirm') }))),
    h('span', { class: 'awaiting' }),
    h('p', { class: 'action-note', role: 'status' }));
  return row;
}

function fillProposal(row, m) {
  setText(row.querySelector('.score'), decimal(m.score));
  setText(row.querySelector('.proposal-title'),
    t('proposals.what', { type: typeName(m.resource_type), quantity: m.quantity, country: country(m.offering_country) }));
  const need = state.needs.get(m.need_id);
  const to = need
    ? t(need.delivery?.place ? 'proposals.to_place' : 'proposals.to', {
      country: country(m.requesting_country), type: typeName(need.resource_type),
      place: need.delivery?.place, priority: label(need.priority, 'priority'),
    })
    : t('proposals.to_need', { country: country(m.requesting_country) });
  const parts = m.score_parts
    ? ` · ${Object.entries(m.score_parts).map(([k, v]) => `${label(k, 'score')} ${decimal(v)}`).join(', ')}` : '';
  const late = m.eta && need?.needed_by && Date.parse(m.eta) > Date.parse(need.needed_by);
  const eta = m.eta ? ` · ${t(late ? 'common.eta_late' : 'common.eta', { time: dateTime(m.eta) })}` : '';
  setText(row.querySelector('.proposal-to'), ` → ${to}${eta}${parts}`);
  const p = need ? picture(need) : null;
  const dup = row.querySelector('.flag-dup');
  dup.hidden = !p?.duplicated;
  toggle(row, 'duplicated', Boolean(p?.duplicated));
  if (p?.duplicated) setText(dup, t('proposals.duplicated', { offered: p.proposed + p.accepted, requested: p.requested }));
  const qty = row.querySelector('.qty');
  if (!qty.value || Number(qty.value) > m.quantity || document.activeElement !== qty) qty.value = String(m.quantity);
  const allowed = can('match.decide', [m.requesting_country]);
  row.querySelector('.proposal-actions').hidden = !allowed;
  setText(row.querySelector('.awaiting'), allowed ? '' : t('proposals.awaiting', { country: country(m.requesting_country) }));
}

async function act(row, what) {
  const id = row.dataset.matchId;
  const note = row.querySelector('.action-note');
  const box = row.querySelector('.decline-box');
  note.textContent = '';
  delete note.dataset.tone;
  if (what === 'decline') {
    box.hidden = false;
    return box.querySelector('input').focus();
  }
  const buttons = [...row.querySelectorAll('button')];
  const m = state.matches.get(id);
  if (what === 'accept') {
    const quantity = Number(row.querySelector('.qty').value.trim());
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > m.quantity) {
      note.dataset.tone = 'error';
      return setText(note, t('proposals.qty_range', { max: m.quantity }));
    }
    return run(buttons, note, () => api.post(`/api/v1/matches/${id}/accept`, quantity === m.quantity ? {} : { quantity }));
  }
  const reason = box.querySelector('input').value.trim();
  if (!reason) {
    note.dataset.tone = 'error';
    return setText(note, t('proposals.reason_needed'));
  }
  return run(buttons, note, () => api.post(`/api/v1/matches/${id}/decline`, { reason }));
}
