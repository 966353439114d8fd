// What only GET /requests/{id} tells about a need: its likely providers (national
// capacities), its alternatives (other offered items that could fill it, never
// counted) and its duplicate pairs; read per RFA, refreshed after the picture
// changes, at most every PAUSE_MS per RFA. Also the one-step offer of a declared
// capacity.
import * as api from './api.js';
import * as store from './store.js';

const PAUSE_MS = 1500;
const byRequest = new Map(); // request id → { needs: Map(need id → the RFA's need), at, stale, loading }

// What changes who could still help: needs, offers, matches, and any event at all
// (capacity.* events move nothing else in the store).
store.subscribe((topics) => {
  if (!['all', 'needs', 'offers', 'matches', 'feed'].some((x) => topics.has(x))) return;
  for (const entry of byRequest.values()) entry.stale = true;
});

/** The need as GET /requests/{id} last gave it; undefined until the first answer. */
export function detailOf(need) {
  const entry = byRequest.get(need.request_id);
  if (!entry || entry.stale) refresh(need.request_id, need.emergency_id);
  return entry?.needs.get(need.id);
}

/** The need's likely providers, best first; undefined until the first answer. */
export function providersOf(need) {
  const detail = detailOf(need);
  return detail && (detail.likely_providers || []);
}

function refresh(requestId, emergencyId) {
  let entry = byRequest.get(requestId);
  if (!entry) {
    entry = { needs: new Map(), at: 0, stale: true, loading: false };
    byRequest.set(requestId, entry);
  }
  if (entry.loading) return;
  entry.loading = true;
  setTimeout(async () => {
    entry.stale = false; // a change from here on asks again
    try {
      const rfa = await api.get(`/api/v1/requests/${encodeURIComponent(requestId)}`);
      entry.needs = new Map(rfa.needs.map((n) => [n.id, n]));
    } catch {
      /* keep what was shown; the next change asks again */
    }
    entry.at = Date.now();
    entry.loading = false;
    store.touch(`e:${emergencyId}`);
  }, Math.max(0, entry.at + PAUSE_MS - Date.now()));
}

/** POST /capacities/{id}/offer: the answer is the offer, as POST /offers gives it. */
export function offerCapacity(capacityId, body) {
  return api.post(`/api/v1/capacities/${encodeURIComponent(capacityId)}/offer`, body, {
    headers: { 'Idempotency-Key': api.idempotencyKey() },
  });
}

/** The register, filtered: `params` as GET /capacities takes them. */
export function search(params) {
  return api.get(`/api/v1/capacities?${new URLSearchParams(params)}`);
}

export function exportCsv(params) {
  return api.download(`/api/v1/capacities?${new URLSearchParams(params)}`, 'text/csv', 'capacities.csv');
}
