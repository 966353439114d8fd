// The live event feed: a fixed-height list, newest first, at most FEED_ROWS rows
// in the DOM; rows are only ever added at the top or dropped at the bottom.
import { h, fill } from './dom.js';
import { country, summary, time } from './format.js';
import { t } from './i18n.js';
import { state } from './store.js';

export const FEED_ROWS = 200;
const ANNOUNCE_EVERY_MS = 5000;
const NAMED = 5; // nations named on a folded circulation row before "and N more"

/** Filing or changing an RFA writes one request.circulated per nation on the list
 * (67 for a real emergency): in the feed they are one row, "circulated to N nations". */
function sameCirculation(a, b) {
  return a.kind === 'request.circulated' && b.kind === 'request.circulated'
    && a.data?.request?.id === b.data?.request?.id && a.data?.change === b.data?.change;
}

/** Runs of events, oldest first; a run is one event or one circulation to many nations. */
function runs(events) {
  const out = [];
  for (const event of events) {
    const last = out[out.length - 1];
    if (last && sameCirculation(last[0], event)) last.push(event);
    else out.push([event]);
  }
  return out;
}

export function mountFeed(panel) {
  const list = panel.querySelector('#feed-list');
  const announcer = panel.querySelector('#announcer');
  let shown = 0;
  let unannounced = [];
  let timer = 0;
  let top = null; // the run drawn in the top row, so a circulation split across reads stays one row

  function text(run) {
    if (run.length === 1) return summary(run[0]);
    const names = run.slice(0, NAMED).map((e) => country(e.data?.country)).join(', ');
    const more = run.length > NAMED ? ` ${t('common.more', { count: run.length - NAMED })}` : '';
    return t('event.request_circulated_many', { count: run.length, countries: names + more });
  }

  function row(run) {
    const event = run[run.length - 1];
    const text_ = text(run);
    // Which emergency: a demo exercise and a real quake in one country must not look alike.
    const e = event.emergency_id ? state.emergencies.get(event.emergency_id) : null;
    const title = e?.title || event.data?.title;
    const exercise = Boolean(e?.exercise ?? event.data?.exercise);
    return h('li', { class: `feed-row k-${event.kind.split('.')[0]}${exercise ? ' exercise' : ''}`, dataset: { seq: event.seq, kind: event.kind, seqs: run.map((e) => e.seq).join(' ') } },
      h('span', { class: 'feed-meta' },
        h('span', { class: 'feed-seq', text: `#${event.seq}` }),
        h('time', { datetime: event.at, text: time(event.at) }),
        h('span', { class: 'feed-kind', text: event.kind })),
      title ? h('span', { class: 'feed-emergency' },
        exercise ? h('span', { class: 'badge exercise', text: t('common.exercise') }) : null, exercise ? ' ' : null, title) : null,
      event.emergency_id
        ? h('a', { class: 'feed-text', href: `#/e/${event.emergency_id}`, title: text_, text: text_ })
        : h('span', { class: 'feed-text', title: text_, text: text_ }));
  }

  function update(topics) {
    if (topics.has('all')) {
      fill(list);
      shown = 0;
      top = null;
    }
    if (!topics.has('feed') && !topics.has('all')) return;
    const fresh = state.feed.filter((e) => e.seq > shown).slice(-FEED_ROWS);
    if (!fresh.length) return;
    const grouped = runs(fresh);
    if (top && top.el.isConnected && sameCirculation(top.run[0], grouped[0][0])) {
      // The rest of the circulation drawn on top: redraw that row, counting them all.
      const run = top.run.concat(grouped.shift());
      const el = row(run);
      top.el.replaceWith(el);
      top = { run, el };
    }
    if (grouped.length) {
      const rows = document.createDocumentFragment();
      const drawn = grouped.map(row);
      for (let i = drawn.length - 1; i >= 0; i -= 1) rows.append(drawn[i]);
      list.prepend(rows);
      top = { run: grouped[grouped.length - 1], el: drawn[drawn.length - 1] };
    }
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
