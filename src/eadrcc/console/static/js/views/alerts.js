// The alert inbox: newest first; acknowledge, and promote or dismiss the watch an
// alert opened (PATCH the emergency to active / closed).
import * as api from '../api.js';
import { h, setText, syncList, toggle } from '../dom.js';
import { ago, country, dateTime } from '../format.js';
import { can } from '../session.js';
import { state } from '../store.js';

export function mount(main) {
  const onlyOpen = h('input', { type: 'checkbox', id: 'only-open', checked: true });
  const count = h('span', { class: 'count' });
  const list = h('ol', { class: 'alerts' });
  const empty = h('p', { class: 'empty', text: 'No alert to show.' });
  main.append(
    h('div', { class: 'page-head' },
      h('h2', { class: 'page-title' }, 'Alert inbox ', count),
      h('label', { class: 'check' }, onlyOpen, ' Unacknowledged only')),
    empty, list);
  onlyOpen.addEventListener('change', () => update(new Set(['alerts'])));

  function update(topics) {
    if (!topics.has('all') && !topics.has('alerts') && !topics.has('emergencies')) return;
    const all = [...state.alerts.values()].sort((a, b) => b.received_at.localeCompare(a.received_at));
    const open = all.filter((a) => !a.acknowledged_at);
    setText(count, `(${open.length} unacknowledged of ${all.length})`);
    const shown = onlyOpen.checked ? open : all;
    empty.hidden = shown.length > 0;
    syncList(list, shown.slice(0, 300), (a) => a.id, alertRow, fillAlert);
  }
  return { update };
}

function alertRow(a) {
  return h('li', { class: 'alert card', dataset: { alertId: a.id } },
    h('div', { class: 'alert-head' },
      h('span', { class: 'badge level' }),
      h('span', { class: 'badge severity' }),
      h('strong', { class: 'alert-title' })),
    h('p', { class: 'alert-meta' }),
    h('p', { class: 'alert-watch' }),
    h('div', { class: 'alert-actions' },
      h('button', { type: 'button', class: 'ack', text: 'Acknowledge', onclick: () => act(a.id, 'ack') }),
      h('button', { type: 'button', class: 'primary promote', text: 'Promote to emergency', onclick: () => act(a.id, 'active') }),
      h('button', { type: 'button', class: 'danger dismiss', text: 'Dismiss watch', onclick: () => act(a.id, 'closed') })),
    h('p', { class: 'field-error', role: 'alert' }));
}

function fillAlert(el, a) {
  const level = el.querySelector('.level');
  level.hidden = !a.level;
  setText(level, a.level || '');
  level.dataset.level = a.level || '';
  const severity = el.querySelector('.severity');
  setText(severity, a.severity);
  severity.dataset.severity = a.severity.toLowerCase();
  setText(el.querySelector('.alert-title'), a.headline || a.event);
  setText(el.querySelector('.alert-meta'),
    `${a.event} · ${a.countries.map(country).join(', ') || 'no country'} · ${a.source.toUpperCase()} from ${a.sender}`
    + ` · sent ${dateTime(a.sent)} · received ${ago(a.received_at)}`
    + (a.status !== 'Actual' ? ` · ${a.status.toUpperCase()}` : ''));
  toggle(el, 'acknowledged', Boolean(a.acknowledged_at));
  const watch = a.emergency_id ? state.emergencies.get(a.emergency_id) : null;
  const watchText = el.querySelector('.alert-watch');
  watchText.replaceChildren(...(watch
    ? ['Opened ', h('a', { href: `#/e/${watch.id}`, text: watch.title }), ` — now ${watch.status}`]
    : [a.acknowledged_at ? `Acknowledged ${ago(a.acknowledged_at)} by ${a.acknowledged_by}` : '']));
  const triage = can('alert.triage');
  el.querySelector('.ack').hidden = !triage || Boolean(a.acknowledged_at);
  el.querySelector('.promote').hidden = !triage || watch?.status !== 'watch';
  el.querySelector('.dismiss').hidden = !triage || watch?.status !== 'watch';
}

async function act(alertId, what) {
  const el = document.querySelector(`[data-alert-id="${alertId}"]`);
  const error = el.querySelector('.field-error');
  const buttons = el.querySelectorAll('button');
  error.textContent = '';
  buttons.forEach((b) => { b.disabled = true; });
  try {
    if (what === 'ack') await api.post(`/api/v1/alerts/${alertId}/acknowledge`);
    else {
      const a = state.alerts.get(alertId);
      await api.patch(`/api/v1/emergencies/${a.emergency_id}`, { status: what });
      if (!a.acknowledged_at) await api.post(`/api/v1/alerts/${alertId}/acknowledge`);
    }
  } catch (err) {
    error.textContent = err.message;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}
