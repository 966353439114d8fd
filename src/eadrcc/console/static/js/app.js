// Boot: sign-in, the live connection, the router and the frame around the views.
import * as api from './api.js';
import { h, fill } from './dom.js';
import { mountFeed } from './feed.js';
import { LANGUAGES, lang, load as loadLanguage, switchTo, t } from './i18n.js';
import { loadAll, refreshPartner } from './loader.js';
import * as session from './session.js';
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
      await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 1000 * attempt)));
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
  socket.start();
  unsubscribe = store.subscribe((topics) => {
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
}

function frame() {
  const who = session.me();
  const where = who.country ? ` · ${who.country}` : '';
  fill(document.getElementById('who'),
    h('span', { class: 'who-name', text: who.name }),
    h('span', { class: 'role', text: `${t(`role.${who.role}`)}${where}` }),
    h('button', { type: 'button', class: 'ghost', onclick: () => signOut(), text: t('signin.out') }));
  fill(document.getElementById('nav'), navItems().map(([href, text, id]) =>
    h('a', { href, id: `nav-${id}`, text })));
  document.getElementById('feed').hidden = false;
}

function navigate() {
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

function showState(name, detail = {}) {
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

function signOut(message) {
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
await loadLanguage();
languageSwitch();
boot();
