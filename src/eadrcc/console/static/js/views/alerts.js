// The alert inbox: alerts of one event grouped together, groups by severity then
// time; acknowledge, and promote or dismiss (guarded) the watch an alert opened.
import { run } from '../actions.js';
import * as api from '../api.js';
import { everyTick } from '../clock.js';
import { guarded } from '../confirm.js';
import { h, fill, setText, syncList, toggle } from '../dom.js';
import { ago, country, dateTime, label } from '../format.js';
import { t } from '../i18n.js';
import { can } from '../session.js';
import { state } from '../store.js';

const SEVERITY = { Extreme: 0, Severe: 1, Moderate: 2, Minor: 3, Unknown: 4 };

export function mount(main) {
  const onlyOpen = h('input', { type: 'checkbox', id: 'only-open', checked: true });
  const count = h('span', { class: 'count' });
  const groups = h('ol', { class: 'alert-groups' });
  const empty = h('p', { class: 'empty', text: t('alerts.none') });
  main.append(
    h('div', { class: 'page-head' },
      h('h2', { class: 'page-title' }, t('alerts.title'), ' ', count),
      h('label', { class: 'check' }, onlyOpen, ' ', t('alerts.only_open'))),
    h('p', { class: 'help', text: t('alerts.order') }),
    empty, groups);
  onlyOpen.addEventListener('change', () => update(new Set(['alerts'])));
  const stopTicking = everyTick(() => update(new Set(['alerts']))); // "3 min ago" moves on

  function update(topics) {
    if (!topics.has('all') && !topics.has('alerts') && !topics.has('emergencies')) return;
    const all = [...state.alerts.values()];
    const open = all.filter((a) => !a.acknowledged_at);
    setText(count, t('alerts.count', { open: open.length, count: all.length }));
    const shown = (onlyOpen.checked ? open : all).slice().sort(bySeverityThenTime).slice(0, 300);
    empty.hidden = shown.length > 0;
    const byGroup = new Map();
    for (const a of shown) {
      if (!byGroup.has(a.group_id)) byGroup.set(a.group_id, []);
      byGroup.get(a.group_id).push(a); // the group's first alert is its most severe, newest
    }
    syncList(groups, [...byGroup.values()], (list) => list[0].group_id, group, (el, list) => {
      const first = list[0];
      setText(el.querySelector('.group-title'), t('alerts.group', { event: first.event, count: list.length }));
      syncList(el.querySelector('.alerts'), list, (a) => a.id, alertRow, fillAlert);
    });
  }
  return { update, destroy: stopTicking };
}

function bySeverityThenTime(a, b) {
  return (SEVERITY[a.severity] ?? 9) - (SEVERITY[b.severity] ?? 9) || b.received_at.localeCompare(a.received_at);
}

function group() {
  return h('li', { class: 'alert-group' }, h('h3', { class: 'group-title' }), h('ol', { class: 'alerts' }));
}

function alertRow(a) {
  const el = h('li', { class: 'alert card', dataset: { alertId: a.id } },
    h('div', { class: 'alert-head' },
      h('span', { class: 'badge exercise', hidden: true, text: t('common.exercise') }),
      h('span', { class: 'badge level' }),
      h('span', { class: 'badge severity' }),
      h('strong', { class: 'alert-title' })),
    h('p', { class: 'alert-meta' }),
    h('p', { class: 'alert-watch' }),
    h('div', { class: 'alert-actions' },
      h('button', { type: 'button', class: 'ack', 'data-action': 'ack', text: t('alerts.ack'), onclick: (e) => ack(el, e.currentTarget) }),
      h('button', { type: 'button', class: 'primary promote', 'data-action': 'promote', text: t('alerts.promote'), onclick: (e) => promote(el, e.currentTarget) }),
      h('span', { class: 'dismiss-slot' })),
    h('p', { class: 'action-note', role: 'status' }));
  return el;
}

function fillAlert(el, a) {
  const level = el.querySelector('.level');
  level.hidden = !a.level;
  setText(level, a.level ? label(a.level.toLowerCase(), 'level') : '');
  level.dataset.level = a.level || '';
  const severity = el.querySelector('.severity');
  setText(severity, label(a.severity.toLowerCase(), 'severity'));
  severity.dataset.severity = a.severity.toLowerCase();
  setText(el.querySelector('.alert-title'), a.headline || a.event);
  const watch = a.emergency_id ? state.emergencies.get(a.emergency_id) : null;
  const exercise = a.status !== 'Actual' || Boolean(watch?.exercise);
  el.querySelector('.badge.exercise').hidden = !exercise;
  toggle(el, 'exercise', exercise);
  setText(el.querySelector('.alert-meta'), [
    a.event, a.countries.map(country).join(', ') || t('alerts.no_country'),
    t('alerts.from', { source: a.source.toUpperCase(), sender: a.sender }),
    t('alerts.sent', { time: dateTime(a.sent) }), t('alerts.received', { ago: ago(a.received_at) }),
    a.status !== 'Actual' ? label(a.status.toLowerCase(), 'cap') : null,
  ].filter(Boolean).join(' · '));
  toggle(el, 'acknowledged', Boolean(a.acknowledged_at));
  const watchText = el.querySelector('.alert-watch');
  if (watch) {
    fill(watchText, t('alerts.opened'), ' ', h('a', { href: `#/e/${watch.id}`, text: watch.title }), ' — ',
      t('alerts.now', { status: label(watch.status, 'status') }));
  } else {
    setText(watchText, a.acknowledged_at ? t('alerts.acked', { ago: ago(a.acknowledged_at), who: a.acknowledged_by }) : '');
  }
  const triage = can('alert.triage');
  el.querySelector('.ack').hidden = !triage || Boolean(a.acknowledged_at);
  el.querySelector('.promote').hidden = !triage || watch?.status !== 'watch';
  const slot = el.querySelector('.dismiss-slot');
  const dismissable = triage && watch?.status === 'watch';
  if (dismissable && slot.dataset.for !== watch.id) {
    slot.dataset.for = watch.id;
    fill(slot, guarded({
      label: t('alerts.dismiss'), title: watch.title,
      onConfirm: ({ reason, button, note }) => run(button, note, () => dismiss(a.id, reason)),
    }));
  } else if (!dismissable && slot.dataset.for) {
    delete slot.dataset.for;
    fill(slot);
  }
}

const noteOf = (el) => el.querySelector(':scope > .action-note');

function ack(el, button) {
  return run(button, noteOf(el), () => api.post(`/api/v1/alerts/${el.dataset.alertId}/acknowledge`));
}

function promote(el, button) {
  return run(button, noteOf(el), () => change(el.dataset.alertId, { status: 'active' }));
}

function dismiss(alertId, reason) {
  return change(alertId, reason ? { status: 'closed', reason } : { status: 'closed' });
}

async function change(alertId, body) {
  const a = state.alerts.get(alertId);
  await api.patch(`/api/v1/emergencies/${a.emergency_id}`, body);
  if (!a.acknowledged_at) await api.post(`/api/v1/alerts/${alertId}/acknowledge`);
}
