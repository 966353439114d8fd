// The emergencies board: watch / active / closed, exercises kept apart. Each card
// gives what needs attention (critical, late, at-risk, duplicated, silent nations)
// and when something last happened; relative times refresh on their own.
import { everyTick } from '../clock.js';
import { h, setText, syncList, toggle } from '../dom.js';
import { ago, country, dateTime, label } from '../format.js';
import { t } from '../i18n.js';
import { emergencyOffers, emergencyRequests, emergencyResponses, picture, state } from '../store.js';
import { countsText } from './responses.js';

const COLUMNS = ['watch', 'active', 'closed'];
const SEVERITY = { extreme: 0, severe: 1, moderate: 2, minor: 3, unknown: 4 };
const SILENT = new Set(['notified', 'delivered', 'seen']);

export function mount(main) {
  const lists = {};
  const section = (exercise) => h('section', { class: `board ${exercise ? 'exercises' : 'real'}`, 'aria-label': t(exercise ? 'board.exercises' : 'board.real') },
    h('h2', { text: t(exercise ? 'board.exercises' : 'board.title') }),
    h('div', { class: 'columns' }, COLUMNS.map((status) => {
      const title = t(`board.col_${status}`);
      const list = h('ul', { class: 'cards', 'aria-label': exercise ? t('board.col_exercises', { column: title }) : title });
      lists[`${exercise}:${status}`] = list;
      return h('div', { class: `column col-${status}` },
        h('h3', {}, title, ' ', h('span', { class: 'count', dataset: { count: `${exercise}:${status}` } })),
        list);
    })));
  main.append(section(false), section(true));
  const stopTicking = everyTick(() => update(new Set(['all'])));

  function update(topics) {
    if (!topics.has('all') && !topics.has('emergencies') && !topics.has('needs')
      && !topics.has('offers') && !topics.has('matches') && !topics.has('responses') && !topics.has('feed')) return;
    const all = [...state.emergencies.values()].sort(order);
    for (const exercise of [false, true]) {
      for (const status of COLUMNS) {
        const key = `${exercise}:${status}`;
        const items = all.filter((e) => e.exercise === exercise && e.status === status);
        syncList(lists[key], items, (e) => e.id, card, fillCard);
        setText(main.querySelector(`[data-count="${key}"]`), items.length);
      }
    }
  }
  return { update, destroy: stopTicking };
}

const lastActivity = (e) => {
  const seen = state.activity.get(e.id) || state.counts.get(e.id)?.last_activity_at;
  return seen && seen > e.updated_at ? seen : e.updated_at;
};

function order(a, b) {
  return (SEVERITY[a.severity] ?? 9) - (SEVERITY[b.severity] ?? 9) || lastActivity(b).localeCompare(lastActivity(a));
}

function card(e) {
  return h('li', { class: 'card emergency-card' },
    h('a', { class: 'card-title', href: `#/e/${e.id}` }),
    h('p', { class: 'card-meta' }),
    h('p', { class: 'card-flags' }),
    h('p', { class: 'card-stats' }),
    h('p', { class: 'card-responses' }),
    h('p', { class: 'card-activity' }));
}

function fillCard(el, e) {
  toggle(el, 'exercise', e.exercise);
  el.dataset.severity = e.severity;
  setText(el.querySelector('.card-title'), (e.exercise ? `${t('common.exercise')} · ` : '') + e.title);
  setText(el.querySelector('.card-meta'),
    `${label(e.hazard, 'hazard')} · ${label(e.severity, 'severity')} · ${e.countries.map(country).join(', ')}`);
  const c = counts(e);
  Object.assign(el.dataset, {
    critical: c.critical, late: c.late, atRisk: c.at_risk, duplicated: c.duplicated, silent: c.silent ?? '',
  });
  const flags = el.querySelector('.card-flags');
  flags.replaceChildren(...[
    ['critical', 'bad'], ['late', 'bad'], ['at_risk', 'warn'], ['duplicated', 'warn'], ['silent', 'warn'],
  ].filter(([k]) => c[k] > 0).map(([k, tone]) => h('span', { class: `chip ${tone}`, text: t(`board.n_${k}`, { count: c[k] }) })));
  setText(el.querySelector('.card-stats'), t('board.stats', {
    rfas: c.requests, needs: c.needs, uncovered: c.uncovered, offers: c.offers,
  }));
  setText(el.querySelector('.card-responses'), countsText(emergencyResponses(e.id)));
  const at = lastActivity(e);
  const activity = el.querySelector('.card-activity');
  activity.title = dateTime(at);
  setText(activity, t('board.activity', { ago: ago(at) }));
}

/** From the live state where the emergency is loaded, else the server's counts. */
function counts(e) {
  const server = state.counts.get(e.id) || {};
  const silent = silentNations(e.id) ?? server.silent_nations;
  if (!state.loaded.has(e.id)) {
    return {
      requests: server.requests ?? 0, needs: server.needs ?? 0, uncovered: server.uncovered ?? 0,
      offers: server.offers ?? 0, critical: server.critical ?? 0, late: server.late ?? 0,
      at_risk: server.at_risk ?? 0, duplicated: server.duplicated ?? 0, silent,
    };
  }
  const requests = emergencyRequests(e.id);
  const all = requests.flatMap((r) => r.needIds.map((id) => picture(state.needs.get(id))));
  const open = all.filter((p) => p.status === 'open');
  return {
    requests: requests.length,
    needs: all.length,
    uncovered: open.filter((p) => p.uncovered).length,
    offers: emergencyOffers(e.id).length,
    critical: open.filter((p) => p.priority === 'critical' && p.uncovered).length,
    late: open.filter((p) => p.late).length,
    at_risk: open.filter((p) => p.at_risk).length,
    duplicated: open.filter((p) => p.duplicated).length,
    silent,
  };
}

/** Nations that were sent the RFAs and have neither acknowledged nor answered. */
function silentNations(id) {
  const rows = emergencyResponses(id);
  return rows.length ? rows.filter((r) => SILENT.has(r.state)).length : undefined;
}
