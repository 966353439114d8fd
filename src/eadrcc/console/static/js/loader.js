// Loading state over HTTP: at sign-in, on `resync`, and one emergency at a time.
import * as api from './api.js';
import { isPoc, isStaff } from './session.js';
import * as store from './store.js';
import { state } from './store.js';

export const FEED_BACKLOG = 200;
const ALERTS = 300;

/**
 * Everything the console shows, consistent with the event stream: the head is read
 * first, every list after it is stamped with it, and events after it are replayed
 * on top (an object already newer than an event ignores it).
 */
export async function loadAll() {
  store.reset();
  const { head } = await api.get('/api/v1/events?since=0&limit=1');
  const [types, partners, emergencies, alerts, backlog, subscriptions] = await Promise.all([
    api.get('/api/v1/resource-types'),
    api.get('/api/v1/partners'),
    api.get('/api/v1/emergencies'),
    isStaff() ? api.get(`/api/v1/alerts?limit=${ALERTS}`) : [],
    api.get(`/api/v1/events?since=${Math.max(0, head - FEED_BACKLOG)}&limit=${FEED_BACKLOG}`),
    // Observers may not list subscriptions (403): they see suspensions as events only.
    isStaff() ? api.get('/api/v1/subscriptions').catch(() => []) : [],
  ]);
  store.putSuspended(subscriptions.filter((s) => s.status === 'suspended'));
  for (const t of types) state.types.set(t.code, t);
  for (const p of partners) state.partners.set(p.code, { ...p, id: p.code });
  for (const e of emergencies) store.putEmergency(e, head);
  for (const a of alerts) store.putAlert(a, head);
  loadCounts().catch(() => {}); // closed emergencies' cards; the live ones are counted here
  state.lastSeq = Math.max(0, head - FEED_BACKLOG);
  const open = emergencies.filter((e) => e.status !== 'closed');
  await Promise.all(open.map((e) => loadEmergency(e.id)));
  for (const event of backlog.events) store.apply(event);
  state.lastSeq = Math.max(state.lastSeq, head);
  store.touch('all');
}

const loading = new Map();

/** An emergency's RFAs, offers and matches (once; events keep them current after). */
export function loadEmergency(id, { force = false } = {}) {
  if (state.loaded.has(id) && !force) return Promise.resolve();
  if (!loading.has(id)) {
    const path = `/api/v1/emergencies/${encodeURIComponent(id)}`;
    const job = api.get(`${path}/snapshot`)
      .then(async (snapshot) => {
        // The response matrix (a POC: its own row); its rows carry versions, so
        // events replayed after it never roll one back.
        const rows = canReadResponses() ? await api.get(`${path}/responses`) : [];
        store.putSnapshot(snapshot);
        for (const row of rows) store.putResponse(row, snapshot.head);
      })
      .finally(() => loading.delete(id));
    loading.set(id, job);
  }
  return loading.get(id);
}

const canReadResponses = () => isStaff() || isPoc();

/** Per nation: does it have a working delivery channel (staff and its own POC). */
export async function loadChannels() {
  const channels = await api.get('/api/v1/channels');
  state.channels.clear();
  for (const c of channels) state.channels.set(c.country, c);
  store.touch('partners');
}

/** partner.updated carries only the code and name: fetch the whole record. */
export async function refreshPartner(code) {
  const p = await api.get(`/api/v1/partners/${encodeURIComponent(code)}`);
  state.partners.set(p.code, { ...p, id: p.code });
  store.touch('partners');
}

/** The server's per-emergency counts (one request for the whole board). */
export async function loadCounts() {
  for (const c of await api.get('/api/v1/emergency-counts')) state.counts.set(c.emergency_id, c);
  store.touch('emergencies');
}
