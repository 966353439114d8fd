// Boot: sign-in, the live connection, the router and the frame around the views.
import { run } from './actions.js';
import * as api from './api.js';
import { h, fill } from './dom.js';
import { mountFeed } from './feed.js';
import { age, dateTime } from './format.js';
import { LANGUAGES, lang, load as loadLanguage, switchTo, t } from './i18n.js';
import * as link from './link.js';
import { loadAll, loadCounts, refreshPartner } from './loader.js';
import * as session from './session.js';
import { isOfficer } from './session.js';
import { EventSocket } from './socket.js';
import * as store from './store.js';
import { state } from './store.js';
import { route, navItems } from './routes.js';
import { mountSignIn } from './views/signin.js';

const main = document.getElementById('main');
const conn = document.getElementById('conn');
let socket = null;
let view = null;
let unsubscribe = null;
let feed = null;

async function boot() {
  const saved = session.token();
  if (!saved) return showSignIn();
  try {
    const who = await api.get('/api/v1/me');
    session.signIn(saved, who);
  } catch (err) {
    session.signOut();
    return showSignIn(err.status === 401 ? t('signin.expired') : err.message);
  }
  await start();
}

function showSignIn(message) {
  document.body.classList.add('signed-out');
  document.getElementById('link-banner').hidden = true;
  document.getElementById('feed').hidden = true;
  fill(document.getElementById('nav'));
  fill(document.getElementById('who'));
  view?.destroy?.();
  view = mountSignIn(main, { message, onSignedIn: start });
}

async function start() {
  document.body.classList.remove('signed-out');
  frame();
  showState('connecting');
  for (let attempt = 1; ; attempt += 1) {
    try {
      await loadAll();
      break;
    } catch (err) {
      if (err.status === 401) return signOut(t('signin.expired'));
      showState('reconnecting', { attempt });
      await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 500 * attempt)));
      if (!session.token()) return;
    }
  }
  feed = mountFeed(document.getElementById('feed'));
  socket = new EventSocket({
    token: session.token,
    since: () => state.lastSeq,
    onEvent,
    onResync: loadAll,
    onState: showState,
    onRefused: () => signOut(t('signin.refused')),
  });
  link.start();
  socket.start();
  unsubscribe = store.subscribe((topics) => {
    if (topics.has('all') || topics.has('suspended')) showSuspended();
    view?.update?.(topics);
    feed.update(topics);
    if (socket?.state === 'live') showState('live');
  });
  window.addEventListener('hashchange', navigate);
  navigate();
}

function onEvent(event) {
  if (!store.apply(event)) return; // already seen: never a doubled row
  if (event.kind === 'partner.updated') refreshPartner(event.data.code).catch(() => {});
  if (event.kind === 'emergency.updated' && event.data.status === 'closed') later('counts', () => loadCounts().catch(() => {}));
}

// Bursts of events that call for a fetch make one fetch, a moment later.
const pending = new Map();
function later(key, fn) {
  if (pending.has(key)) return;
  pending.set(key, setTimeout(() => { pending.delete(key); fn(); }, 1000));
}

function frame() {
  const who = session.me();
  const where = who.country ? ` · ${who.country}` : '';
  fill(document.getElementById('who'),
    h('span', { class: 'who-name', text: who.name }),
    h('span', { class: 'role', text: `${t(`role.${who.role}`)}${where}` }),
    h('button', { type: 'button', class: 'ghost', onclick: () => signOut(), text: t('signin.out') }));
  fill(document.getElementById('nav'), navItems().map(([href, text, id]) =>
    h('a', { href, id: `nav-${id}`, text })),
  h('button', { type: 'button', class: 'feed-toggle', 'aria-controls': 'feed', 'aria-expanded': 'false', text: t('feed.open'), onclick: () => showFeed() }));
  document.getElementById('feed').hidden = false;
}

/** Small screens: the live feed opens over the page from the nav's button. */
function showFeed(open = !document.body.classList.contains('feed-open')) {
  document.body.classList.toggle('feed-open', open);
  const button = document.querySelector('.feed-toggle');
  button?.setAttribute('aria-expanded', String(open));
  if (button) button.textContent = t(open ? 'feed.close' : 'feed.open');
  if (open) document.getElementById('feed-title').focus();
}

function navigate() {
  showFeed(false);
  const { mount, params, id } = route(location.hash);
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.id === `nav-${id}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  view?.destroy?.();
  fill(main);
  view = mount(main, params);
  view?.update?.(new Set(['all']));
}

/**
 * A banner while any subscription is suspended: the duty officer must telephone,
 * then resumes the channel here (from where it stopped: nothing it missed is lost).
 */
function showSuspended() {
  const banner = document.getElementById('delivery-banner');
  const suspended = [...state.suspended.values()].sort((a, b) =>
    (a.country || '').localeCompare(b.country || '') || a.id.localeCompare(b.id));
  banner.hidden = suspended.length === 0;
  if (!suspended.length) {
    fill(banner);
    return;
  }
  const countries = [...new Set(suspended.map((s) => s.country || '—'))].sort().join(', ');
  fill(banner,
    h('p', { class: 'delivery-summary', text: t('delivery.suspended', { count: suspended.length, countries }) }),
    isOfficer() ? h('ul', { class: 'delivery-list' }, suspended.map(resumeControl)) : null);
}

function resumeControl(s) {
  const note = h('span', { class: 'action-note', role: 'status' });
  const button = h('button', {
    type: 'button',
    class: 'resume',
    'data-subscription': s.id,
    text: t('delivery.resume'),
    onclick: async () => {
      const path = `/api/v1/subscriptions/${encodeURIComponent(s.id)}/resume`;
      const done = await run(button, note, () => api.post(path, {}));
      if (done) store.dropSuspended(s.id);
    },
  });
  const what = t('delivery.channel', { country: s.country || t('delivery.staff_view'), kind: t(`delivery.kind_${s.kind}`) });
  return h('li', {}, h('span', { text: what }), ' ', button, ' ', note);
}

function showState(name, detail = {}) {
  // An open socket that has gone quiet is not live, whatever the socket believes.
  if (name === 'live' && link.current() === 'stale') name = 'stale';
  conn.dataset.state = name;
  let text = t(`link.${name}`);
  if (name === 'live') text = t('link.live_at', { seq: state.lastSeq });
  if (name === 'reconnecting' && detail.attempt) text = t('link.reconnecting_attempt', { attempt: detail.attempt });
  conn.textContent = text;
}

/** The language switch in the header: the choice is saved and the page reloads in it. */
function languageSwitch() {
  const select = h('select', { id: 'lang-select', onchange: (e) => switchTo(e.target.value) },
    Object.entries(LANGUAGES).map(([code, name]) => h('option', { value: code, lang: code, selected: code === lang(), text: name })));
  fill(document.getElementById('lang'),
    h('label', { for: 'lang-select', class: 'visually-hidden', text: t('app.language') }), select);
}

/**
 * While the link is not live the whole page says so: the main area dims, a banner
 * gives the age of what is shown and offers to reconnect now; actions are paused
 * (actions.js refuses to send and says why).
 */
function showLink(now = link.current()) {
  const banner = document.getElementById('link-banner');
  if (now === 'live' || document.body.classList.contains('signed-out')) {
    banner.hidden = true;
    return;
  }
  const heard = link.heard();
  const asOf = heard ? t('link.as_of', { time: dateTime(new Date(heard).toISOString()), age: age(Date.now() - heard) }) : '';
  fill(banner,
    h('strong', { class: 'link-title', text: t(`link.banner_${now}`) }), ' ',
    h('span', { class: 'link-age', text: asOf }), ' ',
    h('span', { class: 'link-paused', text: t('link.paused') }), ' ',
    h('button', { type: 'button', class: 'primary reconnect', text: t('link.reconnect_now'), onclick: () => socket?.now() }));
  banner.hidden = false;
}
link.subscribe((now) => {
  showLink(now);
  if (socket) showState(socket.state);
});

function signOut(message) {
  link.stop();
  socket?.stop();
  socket = null;
  unsubscribe?.();
  feed?.destroy();
  window.removeEventListener('hashchange', navigate);
  session.signOut();
  store.reset();
  history.replaceState(null, '', location.pathname);
  showSignIn(message);
}

window.addEventListener('online', () => socket?.now());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') socket?.now();
});
await loadLanguage();
languageSwitch();
boot();
