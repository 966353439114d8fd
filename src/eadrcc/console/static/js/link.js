// How current is what the console shows? `live` while the hub's heartbeats (or any
// message) arrive, `stale` when none has come for STALE_MS, `offline` while the
// socket is closed. <html data-link> carries it (CSS dims the page, tests read it),
// and actions ask it before they send anything.
export const STALE_MS = 15_000;
const TICK_MS = 1000;

let state = 'offline';
let open = false;
let heardAt = 0; // when the hub last said anything on the socket
let since = Date.now(); // when the current state began
const listeners = new Set();
let ticker = 0;

export const current = () => state;
export const isLive = () => state === 'live';
/** When the data shown was last known current (the last word from the hub), ms epoch. */
export const heard = () => heardAt;
export const changedAt = () => since;

/** fn(state) on every change, and once a second while not live (ages move). */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The socket is open and the hub spoke (welcome, event, heartbeat). */
export function heardFrom() {
  open = true;
  heardAt = Date.now();
  evaluate();
}

/** The socket closed (or was never open). */
export function closed() {
  open = false;
  evaluate();
}

export function start() {
  clearInterval(ticker);
  ticker = setInterval(() => evaluate(true), TICK_MS);
  evaluate();
}

export function stop() {
  clearInterval(ticker);
  open = false;
  evaluate();
}

function evaluate(tick = false) {
  const next = !open ? 'offline' : Date.now() - heardAt > STALE_MS ? 'stale' : 'live';
  const changed = next !== state;
  if (changed) {
    state = next;
    since = Date.now();
    document.documentElement.dataset.link = state;
  }
  if (changed || (tick && state !== 'live')) for (const fn of listeners) fn(state);
}

document.documentElement.dataset.link = state;
