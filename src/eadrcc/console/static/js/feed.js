// The live event feed: a fixed-height list, newest first, at most FEED_ROWS rows
// in the DOM; rows are only ever added at the top or dropped at the bottom.
import { h, fill } from './dom.js';
import { summary, time } from './format.js';
import { t } from './i18n.js';
import { state } from './store.js';

export const FEED_ROWS = 200;
const ANNOUNCE_EVERY_MS = 5000;

export function mountFeed(panel) {
  const list = panel.querySelector('#feed-list');
  const announcer = panel.querySelector('#announcer');
  let shown = 0;
  let unannounced = [];
  let timer = 0;

  function row(event) {
    const text = summary(event);
    // Which emergency: a demo exercise and a real quake in one country must not look alike.
    const e = event.emergency_id ? state.emergencies.get(event.emergency_id) : null;
    const title = e?.title || event.data?.title;
    const exercise = Boolean(e?.exercise ?? event.data?.exercise);
    return h('li', { class: `feed-row k-${event.kind.split('.')[0]}${exercise ? ' exercise' : ''}`, dataset: { seq: event.seq, kind: event.kind } },
      h('span', { class: 'feed-meta' },
        h('span', { class: 'feed-seq', text: `#${event.seq}` }),
        h('time', { datetime: event.at, text: time(event.at) }),
        h('span', { class: 'feed-kind', text: event.kind })),
      title ? h('span', { class: 'feed-emergency' },
        exercise ? h('span', { class: 'badge exercise', text: t('common.exercise') }) : null, exercise ? ' ' : null, title) : null,
      event.emergency_id
        ? h('a', { class: 'feed-text', href: `#/e/${event.emergency_id}`, title: text, text })
        : h('span', { class: 'feed-text', title: text, text }));
  }

  function update(topics) {
    if (topics.has('all')) {
      fill(list);
      shown = 0;
    }
    if (!topics.has('feed') && !topics.has('all')) return;
    const fresh = state.feed.filter((e) => e.seq > shown).slice(-FEED_ROWS);
    if (!fresh.length) return;
    const rows = document.createDocumentFragment();
    for (let i = fresh.length - 1; i >= 0; i -= 1) rows.append(row(fresh[i]));
    list.prepend(rows);
    while (list.childElementCount > FEED_ROWS) list.lastElementChild.remove();
    if (shown) announce(fresh);
    shown = fresh[fresh.length - 1].seq;
  }

  // Screen readers hear a short digest at most every few seconds, not every event.
  function announce(fresh) {
    unannounced.push(...fresh);
    if (timer) return;
    timer = setTimeout(() => {
      const n = unannounced.length;
      const last = unannounced[n - 1];
      announcer.textContent = n === 1 ? summary(last) : t('feed.digest', { count: n, latest: summary(last) });
      unannounced = [];
      timer = 0;
    }, ANNOUNCE_EVERY_MS);
  }

  return {
    update,
    destroy() {
      clearTimeout(timer);
      fill(list);
      announcer.textContent = '';
    },
  };
}
