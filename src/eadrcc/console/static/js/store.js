// The console's state, keyed by id. Events carry the whole new state of what they
// changed, so applying one is a replace; each object remembers the seq it is
// current to, so an older copy (a replayed event, a slower list) never wins.
import { now as clockNow } from './clock.js';
import { figures, flags } from './picture.js';
import { me, isStaff } from './session.js';

export const FEED_KEEP = 500;

export const state = {
  emergencies: new Map(),
  requests: new Map(),
  needs: new Map(),
  offers: new Map(),
  matches: new Map(),
  alerts: new Map(),
  responses: new Map(), // `${emergency}:${country}` → the nation's row in the response matrix
  partners: new Map(),
  channels: new Map(), // country → whether it has a working delivery channel
  suspended: new Map(), // subscription id → its subscription.suspended event data
  types: new Map(),
  loaded: new Set(), // emergencies whose snapshot is in
  byNeed: new Map(), // need id → Set of match ids
  activity: new Map(), // emergency id → time of its latest event (ISO)
  counts: new Map(), // emergency id → the server's board counts (GET /api/v1/emergency-counts)
  feed: [], // newest last, at most FEED_KEEP
  lastSeq: 0,
};

const listeners = new Set();
let changed = new Set();
let frame = 0;

/** Run fn(topics) at most once per animation frame with every topic that changed. */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function touch(...topics) {
  for (const t of topics) changed.add(t);
  if (!frame) frame = requestAnimationFrame(flush);
}

function flush() {
  frame = 0;
  const topics = changed;
  changed = new Set();
  for (const fn of listeners) fn(topics);
}

export function reset() {
  for (const value of Object.values(state)) {
    if (value instanceof Map || value instanceof Set) value.clear();
  }
  state.feed = [];
  state.lastSeq = 0;
  touch('all');
}

function put(map, obj, seq) {
  const current = map.get(obj.id);
  if (current && current._seq > seq) return false;
  map.set(obj.id, { ...obj, _seq: seq });
  return true;
}

export function putEmergency(e, seq) {
  if (put(state.emergencies, e, seq)) touch('emergencies', `e:${e.id}`);
}

export function putRequest(r, seq) {
  const { needs, ...request } = r;
  put(state.requests, { ...request, needIds: needs.map((n) => n.id) }, seq);
  for (const need of needs) put(state.needs, need, seq);
  touch(`e:${r.emergency_id}`, 'needs');
}

export function putNeed(n, seq) {
  if (put(state.needs, n, seq)) touch(`e:${n.emergency_id}`, 'needs');
}

export function putOffer(o, seq) {
  if (put(state.offers, o, seq)) touch(`e:${o.emergency_id}`, 'offers');
}

export function putMatch(m, seq) {
  if (!put(state.matches, m, seq)) return;
  if (!state.byNeed.has(m.need_id)) state.byNeed.set(m.need_id, new Set());
  state.byNeed.get(m.need_id).add(m.id);
  touch(`e:${m.emergency_id}`, 'matches');
}

export function putAlert(a, seq) {
  if (put(state.alerts, a, seq)) touch('alerts');
}

/**
 * A response-matrix row; its version decides, so an older copy never wins. Rows in
 * events carry no declared_capacities (only GET .../responses does): the last known
 * list stays until a request.circulated says otherwise.
 */
export function putResponse(row, seq) {
  if (!row || !row.country) return;
  const id = `${row.emergency_id}:${row.country}`;
  const current = state.responses.get(id);
  if (current && current.version > row.version) return;
  const declared = row.declared_capacities ?? current?.declared_capacities ?? [];
  state.responses.set(id, { ...row, declared_capacities: declared, id, _seq: seq });
  touch(`e:${row.emergency_id}`, 'responses');
}

/** A request.circulated: the nation's row, and what it declared for that RFA's open needs. */
function putCirculated(data, seq) {
  putResponse(data.response, seq);
  const row = data.response && state.responses.get(`${data.response.emergency_id}:${data.country}`);
  if (!row || !Array.isArray(data.your_declared_capacities)) return;
  const others = (row.declared_capacities || []).filter((d) => d.request_id !== data.request?.id);
  state.responses.set(row.id, { ...row, declared_capacities: [...others, ...data.your_declared_capacities] });
  touch(`e:${row.emergency_id}`, 'responses');
}

/** Subscriptions whose delivery was given up: the console's banner lists them. */
export function putSuspended(subscriptions) {
  for (const s of subscriptions) state.suspended.set(s.id, s);
  touch('suspended');
}

/** A suspended subscription delivers again (resumed here or by another desk). */
export function dropSuspended(id) {
  if (state.suspended.delete(id)) touch('suspended');
}

export function putSnapshot(s) {
  putEmergency(s.emergency, s.head);
  for (const r of s.requests) putRequest(r, s.head);
  for (const o of s.offers) putOffer(o, s.head);
  for (const m of s.matches) putMatch(m, s.head);
  state.loaded.add(s.emergency.id);
  touch(`e:${s.emergency.id}`);
}

/** Apply one event from the log; returns false for a seq already seen. */
export function apply(event) {
  if (event.seq <= state.lastSeq) return false;
  state.lastSeq = event.seq;
  const { kind, data, seq } = event;
  if (kind.startsWith('emergency.')) putEmergency(data, seq);
  else if (kind === 'request.created') putRequest(data, seq);
  else if (kind === 'need.updated') putNeed(data, seq);
  else if (kind.startsWith('offer.')) putOffer(data, seq);
  else if (kind.startsWith('match.')) putMatch(data, seq);
  else if (kind.startsWith('alert.')) putAlert(data, seq);
  else if (kind === 'request.circulated') putCirculated(data, seq);
  else if (kind === 'response.updated') putResponse(data, seq);
  else if (kind === 'response.reminder' || kind === 'response.overdue') putResponse(data.response, seq);
  else if (kind === 'subscription.suspended') putSuspended([data]);
  else if (kind === 'subscription.resumed') dropSuspended(data.id);
  if (event.emergency_id) {
    const seen = state.activity.get(event.emergency_id);
    if (!seen || seen < event.at) state.activity.set(event.emergency_id, event.at);
  }
  state.feed.push(event);
  if (state.feed.length > FEED_KEEP) state.feed.splice(0, state.feed.length - FEED_KEEP);
  touch('feed');
  return true;
}

/**
 * A need's picture. Where the principal sees every match of the need (staff, or the
 * requesting nation's POC) it is computed from the matches and offers, as the server
 * computes it, so match events move the bars at once; otherwise it is the server's last
 * picture. Either way late and at-risk are judged against the clock now.
 */
export function picture(need, now = clockNow()) {
  const request = state.requests.get(need.request_id);
  const who = me();
  const seesAll = isStaff() || (request && who?.country === request.requesting_country);
  if (!seesAll || !state.loaded.has(need.emergency_id)) return { ...need, ...flags(need, now) };
  const matches = [...(state.byNeed.get(need.id) || [])].map((id) => state.matches.get(id));
  return figures(need, matches, emergencyOffers(need.emergency_id), now);
}

export const emergencyRequests = (id) =>
  [...state.requests.values()].filter((r) => r.emergency_id === id);
export const emergencyOffers = (id) =>
  [...state.offers.values()].filter((o) => o.emergency_id === id);
export const emergencyResponses = (id) =>
  [...state.responses.values()].filter((r) => r.emergency_id === id);
export const emergencyMatches = (id) =>
  [...state.matches.values()].filter((m) => m.emergency_id === id);
