// The emergencies board: watch / active / closed, exercises kept apart.
import { h, setText, syncList, toggle } from '../dom.js';
import { ago, country, label, num } from '../format.js';
import { emergencyOffers, emergencyRequests, emergencyResponses, picture, state } from '../store.js';
import { countsText } from './responses.js';

const COLUMNS = [['watch', 'Watch'], ['active', 'Active'], ['closed', 'Closed']];
const SEVERITY = { extreme: 0, severe: 1, moderate: 2, minor: 3, unknown: 4 };

export function mount(main) {
  const lists = {};
  const section = (exercise) => h('section', { class: `board ${exercise ? 'exercises' : 'real'}`, 'aria-label': exercise ? 'Exercises' : 'Real emergencies' },
    h('h2', { text: exercise ? 'Exercises' : 'Emergencies' }),
    h('div', { class: 'columns' }, COLUMNS.map(([status, title]) => {
      const list = h('ul', { class: 'cards', 'aria-label': `${title}${exercise ? ' exercises' : ''}` });
      lists[`${exercise}:${status}`] = list;
      return h('div', { class: `column col-${status}` },
        h('h3', {}, title, ' ', h('span', { class: 'count', dataset: { count: `${exercise}:${status}` } })),
        list);
    })));
  main.append(section(false), section(true));

  function update(topics) {
    if (!topics.has('all') && !topics.has('emergencies') && !topics.has('needs')
      && !topics.has('offers') && !topics.has('matches') && !topics.has('responses')) return;
    const all = [...state.emergencies.values()].sort(order);
    for (const exercise of [false, true]) {
      for (const [status] of COLUMNS) {
        const key = `${exercise}:${status}`;
        const items = all.filter((e) => e.exercise === exercise && e.status === status);
        syncList(lists[key], items, (e) => e.id, card, fillCard);
        setText(main.querySelector(`[data-count="${key}"]`), items.length);
      }
    }
  }
  return { update };
}

function order(a, b) {
  return (SEVERITY[a.severity] ?? 9) - (SEVERITY[b.severity] ?? 9)
    || b.updated_at.localeCompare(a.updated_at);
}

function card(e) {
  return h('li', { class: 'card emergency-card' },
    h('a', { class: 'card-title', href: `#/e/${e.id}` }),
    h('p', { class: 'card-meta' }),
    h('p', { class: 'card-stats' }),
    h('p', { class: 'card-responses' }));
}

function fillCard(el, e) {
  toggle(el, 'exercise', e.exercise);
  el.dataset.severity = e.severity;
  setText(el.querySelector('.card-title'), (e.exercise ? 'EXERCISE · ' : '') + e.title);
  setText(el.querySelector('.card-meta'),
    `${label(e.hazard)} · ${e.severity} · ${e.countries.map(country).join(', ')} · updated ${ago(e.updated_at)}`);
  setText(el.querySelector('.card-stats'), stats(e));
  setText(el.querySelector('.card-responses'), countsText(emergencyResponses(e.id)));
}

function stats(e) {
  if (!state.loaded.has(e.id)) return '';
  const requests = emergencyRequests(e.id);
  const needs = requests.flatMap((r) => r.needIds.map((id) => picture(state.needs.get(id))));
  const gaps = needs.filter((n) => n.uncovered).length;
  const offers = emergencyOffers(e.id);
  return `${num(requests.length)} RFA · ${num(needs.length)} needs · ${num(gaps)} uncovered · ${num(offers.length)} offers`;
}
