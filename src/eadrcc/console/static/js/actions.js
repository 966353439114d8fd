// Every action the console sends goes through run(): nothing is sent while the link
// is not live (and the user is told), and until the hub answers the control shows
// that it is waiting, with the seconds counting, then the answer or the error.
import { t } from './i18n.js';
import * as link from './link.js';

const SLOW_MS = 5000;

/**
 * button: the control pressed (disabled and marked busy meanwhile);
 * note: where to say what is happening; work(): the request → its promise.
 * Resolves with work()'s result, or undefined when not sent or failed (said in note).
 */
export async function run(button, note, work, { onError } = {}) {
  if (!link.isLive()) {
    say(note, 'paused', t(`action.paused_${link.current()}`));
    return undefined;
  }
  const started = Date.now();
  const busy = [].concat(button).filter(Boolean);
  for (const b of busy) {
    b.disabled = true;
    b.setAttribute('aria-busy', 'true');
  }
  say(note, 'pending', t('action.waiting'));
  const timer = setInterval(() => {
    const seconds = Math.round((Date.now() - started) / 1000);
    const key = Date.now() - started > SLOW_MS && !link.isLive() ? 'action.waiting_no_link' : 'action.waiting_for';
    say(note, 'pending', t(key, { seconds }));
  }, 1000);
  try {
    const result = await work();
    say(note, 'done', t('action.done'));
    return result;
  } catch (err) {
    say(note, 'error', err.status === 0 ? t('action.unreachable') : t('action.failed', { message: err.message }));
    onError?.(err);
    return undefined;
  } finally {
    clearInterval(timer);
    for (const b of busy) {
      b.disabled = false;
      b.removeAttribute('aria-busy');
    }
  }
}

function say(note, tone, text) {
  if (!note) return;
  note.dataset.tone = tone;
  note.textContent = text;
}
