// The response matrix: every nation an emergency's RFAs went to × how far it has
// answered (notified → delivered → seen → acknowledged / offered / unable), live
// from request.circulated and response.* events. Duty officers get the grid; a
// POC gets its own nation's row with "acknowledge" and "unable to assist".
import * as api from '../api.js';
import { h, fill, setText, syncList, toggle } from '../dom.js';
import { age, country, dateTime, num } from '../format.js';
import { t } from '../i18n.js';
import { me } from '../session.js';
import { emergencyResponses } from '../store.js';

export const STATES = ['notified', 'delivered', 'seen', 'acknowledged', 'offered', 'unable'];
const ANSWERED = new Set(['acknowledged', 'offered', 'unable']);
const HOUR = 3_600_000;

/**
 * Columns other features add to the grid after the states, e.g.
 * extraColumns.push({ key: 'declared', head: () => t('…'), cell: (row) => '…' }).
 */
export const extraColumns = [];

export const isSilent = (row) => !ANSWERED.has(row.state) && row.on_distribution;
export const silentMs = (row, now = Date.now()) =>
  (isSilent(row) ? Math.max(0, now - new Date(row.notified_at).getTime()) : 0);

/** Rows per state, and how many are overdue: for the emergency page and the board card. */
export function countsByState(rows) {
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
  let overdue = 0;
  for (const row of rows) {
    counts[row.state] += 1;
    if (row.overdue) overdue += 1;
  }
  return { counts, overdue, total: rows.length };
}

/** "Acknowledged 3 · Notified 60 · …" (states with none left out). */
export function countsText(rows) {
  const { counts, overdue } = countsByState(rows);
  const parts = STATES.filter((s) => counts[s]).map((s) => t('responses.count', { state: t(`responses.state.${s}`), count: counts[s] }));
  if (overdue) parts.push(t('responses.count', { state: t('responses.overdue'), count: overdue }));
  return parts.join(' · ');
}

const SORTS = {
  state: (a, b) => STATES.indexOf(a.state) - STATES.indexOf(b.state) || byName(a, b),
  nation: (a, b) => byName(a, b),
  silence: (a, b) => silentMs(b) - silentMs(a) || byName(a, b),
};
const byName = (a, b) => country(a.country).localeCompare(country(b.country));

/** The duty officers' grid. */
export function responsesPanel() {
  const silent = h('input', { type: 'number', min: '0', step: '0.5', inputmode: 'decimal', id: 'responses-silent', class: 'narrow' });
  const sort = h('select', { id: 'responses-sort' },
    Object.keys(SORTS).map((key) => h('option', { value: key, text: t(`responses.sort_${key}`) })));
  const counts = h('p', { class: 'response-counts', role: 'status' });
  const shown = h('p', { class: 'muted response-shown' });
  const body = h('tbody');
  const headRow = h('tr');
  const table = h('table', { class: 'responses-grid' }, h('thead', {}, headRow), body);
  const el = h('section', { class: 'panel responses', 'aria-labelledby': 'responses-title' },
    h('h3', { id: 'responses-title', class: 'panel-title', text: t('responses.title') }),
    counts,
    h('div', { class: 'response-controls' },
      h('label', { for: 'responses-silent', text: t('responses.filter_silent') }), silent,
      h('label', { for: 'responses-sort', text: t('responses.sort') }), sort),
    shown,
    // May scroll sideways: a focusable region, so a keyboard can scroll it too (axe).
    h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': t('responses.title') }, table));
  let current = null;
  silent.addEventListener('input', () => current && update(current));
  sort.addEventListener('change', () => current && update(current));
  // Silence grows with time, not only with events.
  const timer = setInterval(() => current && update(current), 60_000);

  function update(id) {
    current = id;
    const rows = emergencyResponses(id);
    fill(headRow, h('th', { scope: 'col', text: t('responses.nation') }),
      STATES.map((s) => h('th', { scope: 'col', dataset: { col: s }, text: t(`responses.state.${s}`) })),
      h('th', { scope: 'col', text: t('responses.silent') }),
      h('th', { scope: 'col', text: t('responses.reason') }),
      h('th', { scope: 'col', text: t('responses.offers') }),
      extraColumns.map((c) => h('th', { scope: 'col', dataset: { col: c.key }, text: c.head() })));
    fill(counts, countsText(rows) || t('responses.none'));
    const hours = Number.parseFloat(silent.value);
    const now = Date.now();
    const visible = rows
      .filter((r) => !(hours >= 0) || silentMs(r, now) > hours * HOUR)
      .sort(SORTS[sort.value] || SORTS.state);
    setText(shown, rows.length ? t('responses.shown', { shown: visible.length, total: rows.length }) : '');
    syncList(body, visible, (r) => r.country, gridRow, (tr, r) => fillRow(tr, r, now));
  }

  return { el, update, destroy: () => clearInterval(timer) };
}

function gridRow() {
  return h('tr', {});
}

function fillRow(tr, row, now) {
  tr.dataset.country = row.country;
  tr.dataset.state = row.state;
  toggle(tr, 'overdue', row.overdue);
  toggle(tr, 'off-list', !row.on_distribution);
  const reached = {
    notified: row.notified_at,
    delivered: row.delivered_at,
    seen: row.seen_at,
    [row.state]: ANSWERED.has(row.state) ? row.acknowledged_at : undefined,
  };
  const name = [country(row.country)];
  if (row.overdue) name.push(' ', h('span', { class: 'badge bad', text: t('responses.overdue') }));
  if (!row.on_distribution) name.push(' ', h('span', { class: 'muted', text: t('responses.off_list') }));
  fill(tr,
    h('th', { scope: 'row' }, name),
    STATES.map((s) => {
      const at = ANSWERED.has(s) && s !== row.state ? undefined : reached[s];
      const cell = h('td', { dataset: { col: s }, class: s === row.state ? 'current' : null, title: at ? dateTime(at) : null },
        s === row.state ? '●' : at ? '✓' : '');
      return cell;
    }),
    h('td', { class: 'silence' }, isSilent(row) ? age(silentMs(row, now)) : ''),
    h('td', { text: row.reason || '' }),
    h('td', { class: 'num', text: num(row.offers || 0) }),
    extraColumns.map((c) => h('td', { dataset: { col: c.key } }, c.cell(row))));
}

/** A POC's own nation: its state and the two answers it can give. */
export function answerPanel(emergencyId) {
  const stateText = h('p', { class: 'response-state', role: 'status' });
  const reason = h('input', { type: 'text', id: 'response-reason', maxlength: '4000', placeholder: t('responses.reason_needed') });
  const ack = h('button', { type: 'button', class: 'primary', id: 'response-ack', text: t('responses.acknowledge') });
  const unable = h('button', { type: 'button', id: 'response-unable', text: t('responses.unable') });
  const note = h('p', { class: 'muted response-note', 'aria-live': 'polite' });
  const el = h('section', { class: 'panel response-answer', 'aria-labelledby': 'response-answer-title' },
    h('h3', { id: 'response-answer-title', class: 'panel-title', text: t('responses.yours') }),
    stateText,
    h('div', { class: 'response-controls' },
      ack, h('label', { for: 'response-reason', class: 'visually-hidden', text: t('responses.reason') }), reason, unable),
    note);
  el.hidden = true;
  let busy = false;

  async function answer(body) {
    busy = true;
    ack.disabled = unable.disabled = true;
    setText(note, t('responses.sending'));
    try {
      // Nothing shows as answered until the hub says so: the row comes from its answer.
      await api.post(`/api/v1/emergencies/${encodeURIComponent(emergencyId)}/responses/${me().country}`, body);
      setText(note, t('responses.recorded'));
    } catch (err) {
      setText(note, t('responses.failed', { error: err.errors?.reason || err.message }));
    } finally {
      busy = false;
      ack.disabled = unable.disabled = false;
    }
  }
  ack.addEventListener('click', () => answer({ state: 'acknowledged' }));
  unable.addEventListener('click', () => {
    if (!reason.value.trim()) {
      setText(note, t('responses.reason_needed'));
      reason.focus();
      return;
    }
    answer({ state: 'unable', reason: reason.value.trim() });
  });

  function update() {
    const row = emergencyResponses(emergencyId).find((r) => r.country === me()?.country);
    el.hidden = !row;
    if (!row) return;
    el.dataset.state = row.state;
    const words = t(`responses.state.${row.state}`) + (row.reason ? ` — ${row.reason}` : '');
    setText(stateText, t('responses.your_state', { state: words }));
    if (!busy) ack.disabled = row.state === 'acknowledged' || row.state === 'offered';
    if (!busy) unable.disabled = row.state === 'offered';
  }

  return { el, update };
}

/**
 * What the emergency page shows of the matrix: the grid for staff, the answer panel
 * for a POC of a nation it went to. A POC opening the page opens its RFAs, which the
 * hub records as `seen` (each fetched once per visit).
 */
export function responsesSection(emergencyId) {
  const who = me();
  if (who?.role === 'poc') {
    const panel = answerPanel(emergencyId);
    const opened = new Set();
    return {
      el: panel.el,
      update(requests) {
        panel.update();
        for (const r of requests) {
          if (r.requesting_country === who.country || opened.has(r.id)) continue;
          opened.add(r.id);
          api.get(`/api/v1/requests/${encodeURIComponent(r.id)}`).catch(() => opened.delete(r.id));
        }
      },
      destroy() {},
    };
  }
  if (['admin', 'duty_officer', 'observer'].includes(who?.role)) {
    const grid = responsesPanel();
    return { el: grid.el, update: () => grid.update(emergencyId), destroy: grid.destroy };
  }
  return { el: null, update() {}, destroy() {} };
}
