// The alert inbox: alerts of one event grouped together, groups by severity then
// time; acknowledge, and promote or dismiss (guarded) the watch an alert opened.
// A stale alert (stored, but too old to open a watch) says so and why; a group whose
// earlier watch was closed names it (previous_emergency_ids, GET /alert-groups/{id}).
import { run } from '../actions.js';
import * as api from '../api.js';
import { everyTick } from '../clock.js';
import { guarded } from '../confirm.js';
import { h, fill, setText, syncList, toggle } from '../dom.js';
import { ago, country, dateTime, label } from '../format.js';
import { t } from '../i18n.js';
import { can } from '../session.js';
import { state, touch } from '../store.js';

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
      fillHistory(el.querySelector('.group-history'), first.group_id, list);
      syncList(el.querySelector('.alerts'), list, (a) => a.id, alertRow, fillAlert);
    });
  }
  return { update, destroy: stopTicking };
}

function bySeverityThenTime(a, b) {
  return (SEVERITY[a.severity] ?? 9) - (SEVERITY[b.severity] ?? 9) || b.received_at.localeCompare(a.received_at);
}

function group() {
  return h('li', { class: 'alert-group' },
    h('h3', { class: 'group-title' }), h('p', { class: 'group-history', hidden: true }), h('ol', { class: 'alerts' }));
}

// Group id → { key, previous } from GET /alert-groups/{id}. A group's earlier watches
// change only when an alert joins it, so the group's alert ids are the cache key.
const histories = new Map();

/** "Earlier watches for this event: <title> (closed)", linked, once the hub has said. */
function fillHistory(el, groupId, alerts) {
  // Only a group that reached a watch can have had an earlier one.
  const known = alerts.some((a) => a.emergency_id);
  const key = alerts.map((a) => `${a.id}:${a.emergency_id || ''}`).sort().join(',');
  let entry = histories.get(groupId);
  if (known && (!entry || entry.key !== key)) {
    entry = { key, previous: entry?.previous || [] };
    histories.set(groupId, entry);
    api.get(`/api/v1/alert-groups/${encodeURIComponent(groupId)}`).then((g) => {
      entry.previous = g.previous_emergency_ids;
      touch('alerts');
    }, () => { entry.key = ''; }); // asked again at the next redraw
  }
  const previous = (known && entry?.previous) || [];
  el.hidden = previous.length === 0;
  const shown = JSON.stringify(previous.map((id) => [id, state.emergencies.get(id)?.title, state.emergencies.get(id)?.status]));
  if (el.dataset.shown === shown) return;
  el.dataset.shown = shown;
  const links = previous.flatMap((id, i) => {
    const e = state.emergencies.get(id);
    const what = e ? `${e.title} (${label(e.status, 'status')})` : id;
    return [i ? ', ' : '', h('a', { href: `#/e/${id}`, dataset: { emergencyId: id }, text: what })];
  });
  fill(el, t('alerts.previous', { count: previous.length }), ' ', links);
}

function alertRow(a) {
  const el = h('li', { class: 'alert card', dataset: { alertId: a.id } },
    h('div', { class: 'alert-head' },
      h('span', { class: 'badge exercise', hidden: true, text: t('common.exercise') }),
      h('span', { class: 'badge level' }),
      h('span', { class: 'badge severity' }),
      h('span', { class: 'badge stale', hidden: true, text: t('alerts.stale_badge') }),
      h('strong', { class: 'alert-title' })),
    h('p', { class: 'alert-meta' }),
    h('p', { class: 'alert-stale', hidden: true }),
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
  toggle(el, 'stale', Boolean(a.stale));
  el.dataset.stale = a.stale ? 'true' : 'false';
  el.querySelector('.badge.stale').hidden = !a.stale;
  const stale = el.querySelector('.alert-stale');
  stale.hidden = !a.stale;
  setText(stale, a.stale ? staleText(a.stale) : '');
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

// The hub says why in English (alerts/rules.py stale_reason); the common reasons are
// put in the reader's language, any other is shown as the hub wrote it.
function staleText(reason) {
  if (reason.startsWith('expired')) return t('alerts.stale_expired');
  if (reason.includes('no longer current')) return t('alerts.stale_not_current');
  if (reason.startsWith('sent more than')) return t('alerts.stale_old');
  return t('alerts.stale_other', { reason });
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
