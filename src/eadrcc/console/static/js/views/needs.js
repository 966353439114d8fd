// An emergency's RFAs and each need's bar, updated in place, keyed by id.
import { bar, describe, legend, updateBar } from '../bars.js';
import { h, setText, syncList, toggle } from '../dom.js';
import { country, dateTime, num, typeName, unit } from '../format.js';
import { t } from '../i18n.js';
import { emergencyRequests, picture, state } from '../store.js';
import { couldHelpCell, fillCouldHelp } from './could-help.js';

const PRIORITY = { critical: 0, high: 1, normal: 2 };

export function needsPanel() {
  const list = h('div', { class: 'rfa-list' });
  const empty = h('p', { class: 'empty', text: t('needs.none') });
  const el = h('section', { class: 'panel needs-panel', 'aria-labelledby': 'needs-title' },
    h('h3', { id: 'needs-title', class: 'panel-title', text: t('needs.title') }), legend(), empty, list);

  function update(emergencyId) {
    const requests = emergencyRequests(emergencyId).sort((a, b) => a.created_at.localeCompare(b.created_at));
    empty.hidden = requests.length > 0;
    syncList(list, requests, (r) => r.id, rfa, (section, r) => {
      setText(section.querySelector('.rfa-title'),
        `${country(r.requesting_country)} — RFA ${r.reference || r.id} · filed ${dateTime(r.created_at)}`);
      const needs = r.needIds.map((id) => state.needs.get(id)).filter(Boolean)
        .sort((a, b) => PRIORITY[a.priority] - PRIORITY[b.priority]);
      syncList(section.querySelector('.need-rows'), needs, (n) => n.id, needRow, (row, n) => fillNeed(row, picture(n)));
    });
  }
  return { el, update };
}

function rfa() {
  return h('section', { class: 'rfa' }, h('h4', { class: 'rfa-title' }), h('ul', { class: 'need-rows' }));
}

function needRow(n) {
  return h('li', { class: 'need', dataset: { needId: n.id } },
    h('div', { class: 'need-head' },
      h('span', { class: 'prio' }),
      h('span', { class: 'need-name' }),
      h('span', { class: 'need-place' }),
      h('span', { class: 'flag flag-late', text: t('need.late') }),
      h('span', { class: 'flag flag-risk', text: t('need.at_risk') }),
      h('span', { class: 'flag flag-dup', text: t('flag.duplicated') }),
      h('span', { class: 'flag flag-gap' })),
    bar(),
    h('p', { class: 'need-nums' }),
    h('p', { class: 'need-etas' }),
    couldHelpCell());
}

function fillNeed(row, p) {
  const d = row.dataset;
  // data-* mirror the numbers for tests and for anyone reading the DOM.
  Object.assign(d, {
    priority: p.priority, status: p.status, requested: p.requested, proposed: p.proposed,
    accepted: p.accepted, inTransit: p.in_transit, delivered: p.delivered,
    uncoveredQuantity: p.uncovered_quantity, uncovered: p.uncovered, duplicated: p.duplicated,
    late: p.late, atRisk: p.at_risk, eta: p.eta || '',
  });
  toggle(row, 'cancelled', p.status === 'cancelled');
  toggle(row, 'late', p.late);
  toggle(row, 'at-risk', p.at_risk);
  row.querySelector('.flag-late').hidden = !p.late;
  row.querySelector('.flag-risk').hidden = !p.at_risk;
  fillEtas(row.querySelector('.need-etas'), p);
  toggle(row, 'duplicated', p.duplicated);
  toggle(row, 'uncovered', p.uncovered);
  setText(row.querySelector('.prio'), t(`priority.${p.priority}`));
  setText(row.querySelector('.need-name'), `${typeName(p.resource_type)} ×${num(p.requested)} ${unit(p.resource_type)}`);
  setText(row.querySelector('.need-place'), [p.delivery?.place, p.needed_by && `by ${dateTime(p.needed_by)}`, p.status === 'cancelled' && 'cancelled'].filter(Boolean).join(' · '));
  row.querySelector('.flag-dup').hidden = !p.duplicated;
  const gap = row.querySelector('.flag-gap');
  gap.hidden = !p.uncovered;
  setText(gap, `UNCOVERED ${num(p.uncovered_quantity)}`);
  updateBar(row.querySelector('.bar'), p);
  setText(row.querySelector('.need-nums'), describe(p));
  fillCouldHelp(row.querySelector('.could-help'), p);
}

// When help is due: each dispatch on its way with its ETA, else the latest ETA of
// accepted help (what at-risk is judged on).
function fillEtas(el, p) {
  const moving = (p.dispatches || []).map((m) => t('need.dispatch', {
    country: country(m.offering_country), quantity: m.quantity, time: dateTime(m.eta),
  }));
  const lines = moving.length ? moving : (p.eta ? [t('need.eta', { time: dateTime(p.eta) })] : []);
  el.hidden = lines.length === 0;
  setText(el, lines.join(' · '));
}
