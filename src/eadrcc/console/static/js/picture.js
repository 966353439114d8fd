// A need's figures, computed in the browser as the hub computes them
// (src/eadrcc/requests/picture.py); tests/data/expected/ holds all three to one answer.
// accepted, in_transit and delivered are disjoint; a proposal is never cover;
// late: needed_by passed and not all delivered; at_risk: accepted or moving help due
// after needed_by, or nothing accepted with needed_by under 6 hours away.
export const AT_RISK_WITHIN_MS = 6 * 3600 * 1000;
const ALLOCATED = new Set(['accepted', 'in_transit', 'delivered']);
const LIVE = new Set(['proposed', ...ALLOCATED]);

/**
 * The picture of `need` (its server picture: id, status, requested, needed_by, …) from
 * the matches of that need and the emergency's offers, at time `now` (ms).
 */
export function figures(need, matches, offers, now) {
  let proposed = 0, accepted = 0, inTransit = 0, delivered = 0, eta = null;
  const dispatches = [];
  for (const m of matches) {
    if (m.status === 'proposed') proposed += m.quantity;
    if (!ALLOCATED.has(m.status)) continue;
    accepted += m.quantity - m.dispatched;
    inTransit += m.dispatched - m.delivered;
    delivered += m.delivered;
    if (m.eta && m.delivered < m.quantity && (eta === null || Date.parse(m.eta) > Date.parse(eta))) eta = m.eta;
    if (m.dispatched > m.delivered) {
      dispatches.push({ match_id: m.id, offering_country: m.offering_country, quantity: m.dispatched - m.delivered, eta: m.eta });
    }
  }
  dispatches.sort((a, b) => (a.eta || '').localeCompare(b.eta || '') || a.match_id.localeCompare(b.match_id));
  const p = { ...need, proposed, accepted, in_transit: inTransit, delivered, eta, dispatches };
  const dup = duplicates(matches, offers);
  return { ...p, ...cover(p), ...flags(p, now), duplicated: dup.length > 0, duplicates: dup };
}

/** uncovered_quantity = requested − accepted − in transit − delivered (0 when cancelled). */
export function cover(p) {
  const gap = p.status === 'open' ? Math.max(p.requested - p.accepted - p.in_transit - p.delivered, 0) : 0;
  return { uncovered_quantity: gap, uncovered: gap > 0 };
}

/**
 * late and at_risk at time `now` (ms), from the counts, needed_by and the latest ETA:
 * the console's only copy of the rule of eadrcc.requests.picture.late() and
 * eadrcc.requests.picture.at_risk() (src/eadrcc/requests/picture.py), change them
 * together. The views call it again on every tick of clock.js, so a need turns late
 * as its needed_by passes.
 *   late: open, needed_by <= now and delivered < requested.
 *   at_risk: open with a needed_by, and either the latest ETA of accepted or moving
 *   help is after needed_by, or nothing is allocated and needed_by - now < 6 h.
 */
export function flags(p, now) {
  if (p.status !== 'open' || !p.needed_by) return { late: false, at_risk: false };
  const due = Date.parse(p.needed_by);
  const late = due <= now && p.delivered < p.requested;
  const allocated = p.accepted + p.in_transit + p.delivered;
  const atRisk = (p.eta != null && Date.parse(p.eta) > due) || (allocated === 0 && due - now < AT_RISK_WITHIN_MS);
  return { late, at_risk: atRisk };
}

/** Help planned for or given to the need that another channel announced again. */
function duplicates(matches, offers) {
  const copies = new Map(); // item id → [[offer, item], …] announcing it again
  const items = new Map();
  for (const o of offers) {
    for (const i of o.items || []) {
      items.set(i.id, [o, i]);
      if (i.possible_duplicate_of && i.status === 'open') {
        if (!copies.has(i.possible_duplicate_of)) copies.set(i.possible_duplicate_of, []);
        copies.get(i.possible_duplicate_of).push([o, i]);
      }
    }
  }
  const pairs = [];
  const seen = new Set();
  for (const m of matches) {
    if (!LIVE.has(m.status) || !items.has(m.offer_item_id)) continue;
    const [offer, item] = items.get(m.offer_item_id);
    for (const [dupOffer, dup] of copies.get(item.id) || []) {
      const key = `${item.id}/${dup.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      pairs.push({ item_id: item.id, offering_country: offer.offering_country, channel: offer.channel, duplicate_item_id: dup.id, duplicate_channel: dupOffer.channel });
    }
  }
  return pairs;
}
