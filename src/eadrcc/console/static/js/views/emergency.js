// One emergency: its RFAs and need bars, the maps and timeline, the proposals and
// the offers by nation; every part updates in place as events arrive.
import { run } from '../actions.js';
import * as api from '../api.js';
import { guarded } from '../confirm.js';
import { h, kpis, fill } from '../dom.js';
import { country, label } from '../format.js';
import { everyTick } from '../clock.js';
import { t } from '../i18n.js';
import { loadEmergency } from '../loader.js';
import { can, isPoc, me } from '../session.js';
import { emergencyMatches, emergencyOffers, emergencyRequests, picture, state } from '../store.js';
import { needsPanel } from './needs.js';
import { offersTable } from './offers.js';
import { proposalsPanel } from './proposals.js';
import { responsesSection } from './responses.js';
import './declared-mark.js'; // adds its column to the response grid
import { visualsPanel } from './visuals.js';

export function mount(main, { id }) {
  const head = h('div', { class: 'page-head' });
  const numbers = h('div', { class: 'kpi-slot' });
  const needs = needsPanel();
  const visuals = visualsPanel();
  const proposals = proposalsPanel();
  const responses = responsesSection(id);
  const offers = offersTable({ caption: t('emergency.offers_title') });
  const status = h('p', { class: 'loading', role: 'status', text: t('common.loading') });
  main.append(status, head, numbers,
    h('div', { class: 'emergency-grid' }, needs.el, visuals.el),
    proposals.el,
    responses.el,
    h('section', { class: 'panel', 'aria-labelledby': 'offers-title' },
      h('h3', { id: 'offers-title', class: 'panel-title', text: t('emergency.offers_title') }), offers.el));
  let headKey = '';
  let refresher = 0;
  // Late and at-risk depend on the clock, not only on events.
  const stopTicking = everyTick(() => update(new Set([`e:${id}`])));

  loadEmergency(id).then(() => update(new Set(['all'])), (err) => {
    status.textContent = err.status === 404 ? t('emergency.missing') : t('common.load_failed', { message: err.message });
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
    const open = pictures.filter((p) => p.status === 'open');
    // A POC sees its own offers (and, if struck, everyone's): say whose they are.
    const mine = isPoc() && !e.countries.includes(me().country);
    fill(numbers, kpis([
      [t('kpi.needs'), pictures.length],
      [t('kpi.critical'), open.filter((p) => p.priority === 'critical' && p.uncovered).length, 'bad'],
      [t('kpi.uncovered'), open.filter((p) => p.uncovered).length, 'bad'],
      [t('kpi.late'), open.filter((p) => p.late).length, 'bad'],
      [t('kpi.at_risk'), open.filter((p) => p.at_risk).length, 'warn'],
      [t('kpi.duplicated'), open.filter((p) => p.duplicated).length, 'warn'],
      [t('kpi.fully_accepted'), pictures.filter((p) => p.accepted >= p.requested).length, 'good'],
      [t(mine ? 'kpi.your_offers' : 'kpi.offers'), offered.length],
      [t(mine ? 'kpi.your_nation' : 'kpi.nations'), new Set(offered.map((o) => o.offering_country)).size],
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

  return { update, destroy: () => { clearInterval(refresher); stopTicking(); responses.destroy(); } };
}

function header(e) {
  const actions = [h('a', { class: 'button', href: `#/e/${e.id}/sitrep`, text: t('emergency.sitrep') })];
  if (e.status !== 'closed' && can('request.create', e.countries)) {
    actions.push(h('a', { class: 'button', href: `#/e/${e.id}/rfa`, text: t('emergency.file_rfa') }));
  }
  if (e.status !== 'closed' && can('offer.create', [me().country])) {
    actions.push(h('a', { class: 'button primary', href: `#/e/${e.id}/offer`, text: t('emergency.offer_help') }));
  }
  const note = h('p', { class: 'action-note', role: 'status' });
  if (can('emergency.update')) {
    if (e.status === 'watch') {
      const promote = h('button', { type: 'button', class: 'primary', 'data-action': 'promote', text: t('emergency.promote') });
      promote.addEventListener('click', () => run(promote, note, () => patch(e, { status: 'active' })));
      actions.push(promote);
    }
    if (e.status !== 'closed') {
      actions.push(guarded({
        label: t(e.status === 'watch' ? 'emergency.dismiss' : 'emergency.close'), title: e.title,
        onConfirm: ({ reason, button, note: inner }) => run(button, inner, () => patch(e, { status: 'closed', reason })),
      }));
    } else {
      actions.push(guarded({
        label: t('emergency.reopen'), title: e.title, danger: false, reasonRequired: true,
        onConfirm: ({ reason, button, note: inner }) => run(button, inner, () => patch(e, { status: 'active', reason })),
      }));
    }
  }
  const title = h('h2', { class: 'page-title' }, e.exercise ? h('span', { class: 'badge exercise', text: t('common.exercise') }) : null, ' ', e.title);
  const meta = h('p', { class: 'page-meta' },
    h('span', { class: `badge status-${e.status}`, text: label(e.status, 'status') }), ' ',
    h('span', { class: `badge sev-${e.severity}`, text: label(e.severity, 'severity') }), ' ',
    `${label(e.hazard, 'hazard')} · ${e.countries.map(country).join(', ')}`);
  return [h('div', {}, title, meta), h('div', { class: 'page-actions' }, actions, note)];
}

function patch(e, body) {
  if (!body.reason) delete body.reason;
  return api.patch(`/api/v1/emergencies/${e.id}`, body);
}
