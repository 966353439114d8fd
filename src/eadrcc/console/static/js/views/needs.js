// An emergency's RFAs and each need's bar, updated in place, keyed by id.
import { bar, describe, legend, updateBar } from '../bars.js';
import { detailOf } from '../capacities.js';
import { h, fill, setText, syncList, toggle } from '../dom.js';
import { channel, country, dateTime, num, typeName, unit } from '../format.js';
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
      setText(section.querySelector('.rfa-title'), t('needs.rfa', {
        country: country(r.requesting_country), reference: r.reference || r.id, time: dateTime(r.created_at),
      }));
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
  const alternatives = `alts-${n.id}`;
  const duplicates = `dups-${n.id}`;
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
    h('p', { class: 'need-eta' }),
    h('div', { class: 'need-dups', hidden: true },
      h('span', { class: 'need-list-title', id: duplicates, text: t('need.duplicates_title') }), ' ',
      h('ul', { class: 'need-list', 'aria-labelledby': duplicates })),
    h('div', { class: 'need-alts', hidden: true },
      h('span', { class: 'need-list-title', id: alternatives, text: t('need.alternatives_title') }), ' ',
      h('ul', { class: 'need-list', 'aria-labelledby': alternatives })),
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
  fillEta(row.querySelector('.need-eta'), p);
  toggle(row, 'duplicated', p.duplicated);
  toggle(row, 'uncovered', p.uncovered);
  setText(row.querySelector('.prio'), t(`priority.${p.priority}`));
  setText(row.querySelector('.need-name'), `${typeName(p.resource_type)} ×${num(p.requested)} ${unit(p.resource_type)}`);
  setText(row.querySelector('.need-place'), [
    p.delivery?.place, p.needed_by && t('needs.by', { time: dateTime(p.needed_by) }),
    p.status === 'cancelled' && t('status.cancelled'),
  ].filter(Boolean).join(' · '));
  row.querySelector('.flag-dup').hidden = !p.duplicated;
  const gap = row.querySelector('.flag-gap');
  gap.hidden = !p.uncovered;
  setText(gap, t('flag.uncovered', { quantity: num(p.uncovered_quantity) }));
  fillDuplicates(row.querySelector('.need-dups'), p);
  fillAlternatives(row.querySelector('.need-alts'), p);
  updateBar(row.querySelector('.bar'), p);
  setText(row.querySelector('.need-nums'), describe(p));
  fillCouldHelp(row.querySelector('.could-help'), p);
}

// When help is due, under the row: the need's ETA (the latest of accepted or moving
// help, what at-risk is judged on; the API's need.eta), then each dispatch on its way.
function fillEta(el, p) {
  const late = p.eta && p.needed_by && Date.parse(p.eta) > Date.parse(p.needed_by);
  const lines = p.eta ? [t(late ? 'need.eta_late' : 'need.eta', { time: dateTime(p.eta) })] : [];
  for (const m of p.dispatches || []) {
    lines.push(t('need.dispatch', { country: country(m.offering_country), quantity: num(m.quantity), time: dateTime(m.eta) }));
  }
  el.hidden = lines.length === 0;
  toggle(el, 'after-need-by', Boolean(late));
  setText(el, lines.join(' · '));
}

// Lists redrawn only when what they say changed (a tick must not rebuild them).
function fillList(box, rows) {
  const key = JSON.stringify(rows);
  if (box.dataset.shown === key) return;
  box.dataset.shown = key;
  box.hidden = rows.length === 0;
  fill(box.querySelector('ul'), rows.map(({ text, data }) => h('li', { text, dataset: data })));
}

// The same help offered through two channels: each pair, by nation and channels.
// The picture computes them from the offers where this console sees every match;
// events carry a need without them, so GET /requests/{id} fills in.
function fillDuplicates(box, p) {
  let pairs = p.duplicates || [];
  if (p.duplicated && !pairs.length) pairs = detailOf(p)?.duplicates || [];
  if (!p.duplicated) pairs = [];
  fillList(box, pairs.map((d) => ({
    data: { itemId: d.item_id, duplicateItemId: d.duplicate_item_id },
    text: t('need.duplicate_pair', { country: country(d.offering_country), channel: channel(d.channel), other: channel(d.duplicate_channel) }),
  })));
}

// Up to three other offered items that could fill what the need lacks (their units
// are promised elsewhere, or it is fully proposed): never counted as cover.
function fillAlternatives(box, p) {
  const open = p.status === 'open' && p.uncovered;
  const alternatives = open ? (detailOf(p)?.alternatives || []) : [];
  fillList(box, alternatives.map((a) => ({
    data: { offerItemId: a.offer_item_id },
    text: t('need.alternative', {
      country: country(a.offering_country), quantity: num(a.available), type: typeName(a.resource_type), time: dateTime(a.eta),
    }),
  })));
}
