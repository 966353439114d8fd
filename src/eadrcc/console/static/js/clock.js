// The console's one clock. Late, at-risk and "3 min ago" are judged against now(),
// and the views that show them redraw on everyTick(), so a need turns late as its
// needed-by passes, not at the next event or reload.
// Tests may set window.__eadrccNow to a function returning epoch milliseconds, to
// move the console's time without waiting for it.

export const TICK_MS = 15_000;

export function now() {
  const injected = window.__eadrccNow;
  return typeof injected === 'function' ? injected() : Date.now();
}

/** Call fn every TICK_MS; returns the function that stops it. */
export function everyTick(fn) {
  const timer = setInterval(fn, TICK_MS);
  return () => clearInterval(timer);
}
