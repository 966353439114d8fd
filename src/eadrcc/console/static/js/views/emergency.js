// One emergency: its RFAs and need bars, the maps and timeline, the proposals and
// the offers by nation; every part updates in place as events arrive.
import * as api from '../api.js';
import { h, kpis, fill, toggle } from '../dom.js';
import { country, label, num } from '../format.js';
import { loadEmergency } from '../loader.js';
import { can, me } from '../session.js';
import { emergencyMatches, emergencyOffers, emergencyRequests, picture, state } from '../store.js';
import { needsPanel } from './needs.js';
import { offersTable } from './offers.js';
import { proposalsPanel } from './proposals.js';
import { responsesSection } from './responses.js';
import { visualsPanel } from './visuals.js';

export function mount(main, { id }) {
  const head = h('div', { class: 'page-head' });
  const numbers = h('div', { class: 'kpi-slot' });
  const needs = needsPanel();
  const visuals = visualsPanel();
  const proposals = proposalsPanel();
  const responses = responsesSection(id);
  const offers = offersTable({ caption: 'Offers by nation and channel' });
  const status = h('p', { class: 'loading', role: 'status', text: 'Loading…' });
  main.append(status, head, numbers,
    h('div', { class: 'emergency-grid' }, needs.el, visuals.el),
    proposals.el,
    responses.el,
    h('section', { class: 'panel', 'aria-labelledby': 'offers-title' },
      h('h3', { id: 'offers-title', class: 'panel-title', text: 'Offers by nation and channel' }), offers.el));
  let headKey = '';
  let refresher = 0;

  loadEmergency(id).then(() => update(new Set(['all'])), (err) => {
    status.textContent = err.status === 404 ? 'No such emergency.' : `Could not load: ${err.message}`;
  });

  function update(topics) {
    if (!topics.has('all') && !topics.has(`e:${id}`) && !topics.has('partners')) return;
    const e = state.emergencies.get(id);
    if (!e || !state.loaded.has(id)) return;
    status.hidden = true;
    const key = JSON.stringify([e.title, e.status, e.severity, e.exercise]);
    if (key !== headKey) {
      headKey = key;
      fill(head, ...header(e));
    }
    const requests = emergencyRequests(id);
    const offered = emergencyOffers(id);
    const matches = emergencyMatches(id);
    const pictures = requests.flatMap((r) => r.needIds.map((n) => picture(state.needs.get(n))));
    fill(numbers, kpis([
      ['needs', num(pictures.length)],
      ['uncovered', num(pictures.filter((p) => p.uncovered).length), 'bad'],
      ['duplicated', num(pictures.filter((p) => p.duplicated).length), 'warn'],
      ['fully accepted', num(pictures.filter((p) => p.accepted >= p.requested).length), 'good'],
      ['offers', num(offered.length)],
      ['nations', num(new Set(offered.map((o) => o.offering_country)).size)],
    ]));
    needs.update(id);
    proposals.update(id);
    responses.update(requests);
    offers.update(offered);
    visuals.update(e, requests, offered, matches);
    watchOthers(requests);
  }

  // A POC of a nation that did not file an RFA cannot see the other nations' matches,
  // so their effect on the bars reaches it only through the server's pictures.
  function watchOthers(requests) {
    const blind = requests.some((r) => me().role === 'poc' && r.requesting_country !== me().country);
    if (blind && !refresher) refresher = setInterval(() => loadEmergency(id, { force: true }), 20_000);
  }

  return { update, destroy: () => { clearInterval(refresher); responses.destroy(); } };
}

function header(e) {
  const actions = [h('a', { class: 'button', href: `#/e/${e.id}/sitrep`, text: 'Situation report' })];
  if (e.status !== 'closed' && can('request.create', e.countries)) {
    actions.push(h('a', { class: 'button', href: `#/e/${e.id}/rfa`, text: 'File an RFA' }));
  }
  if (e.status !== 'closed' && can('offer.create', [me().country])) {
    actions.push(h('a', { class: 'button primary', href: `#/e/${e.id}/offer`, text: 'Offer help' }));
  }
  if (can('emergency.update')) {
    if (e.status === 'watch') actions.push(statusButton(e, 'active', 'Promote to active'));
    if (e.status !== 'closed') actions.push(statusButton(e, 'closed', 'Close'));
  }
  const title = h('h2', { class: 'page-title' }, e.exercise ? h('span', { class: 'badge exercise', text: 'EXERCISE' }) : null, ' ', e.title);
  const meta = h('p', { class: 'page-meta' },
    h('span', { class: `badge status-${e.status}`, text: e.status }), ' ',
    h('span', { class: `badge sev-${e.severity}`, text: e.severity }), ' ',
    `${label(e.hazard)} · ${e.countries.map(country).join(', ')}`);
  return [h('div', {}, title, meta), h('div', { class: 'page-actions' }, actions)];
}

function statusButton(e, status, text) {
  const button = h('button', { type: 'button', class: status === 'closed' ? 'danger' : 'primary', text });
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await api.patch(`/api/v1/emergencies/${e.id}`, { status });
    } catch (err) {
      button.textContent = `${text}: ${err.message}`;
      toggle(button, 'failed', true);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}
