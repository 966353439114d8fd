// The /ws state machine: hello{token, since} → welcome → events; reconnect with
// backoff and resume from the last seq; on `resync`, reload everything and resume
// from the reloaded head. States: connecting, live, reconnecting, resyncing, stopped.
// Every message from the hub (heartbeats included) tells link.js the hub is alive.
import * as link from './link.js';

const UNAUTHORIZED = 4001;
const TOO_SLOW = 4008;
// While someone is looking, retry fast (a returning hub is back on screen within
// about 2 s); a hidden tab backs off further so idle consoles do not storm a hub.
const MAX_DELAY_VISIBLE_MS = 1500;
const MAX_DELAY_HIDDEN_MS = 30_000;

export class EventSocket {
  /**
   * token(): the bearer token; since(): the last seq applied;
   * onEvent(msg), onResync() → Promise (reload done), onState(state, detail),
   * onRefused() (the token is no longer accepted).
   */
  constructor({ token, since, onEvent, onResync, onState, onRefused }) {
    Object.assign(this, { token, since, onEvent, onResync, onState, onRefused });
    this.state = 'stopped';
    this.attempt = 0;
    this.ws = null;
    this.timer = 0;
  }

  start() {
    this.stopped = false;
    this.connect('connecting');
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.drop();
    this.set('stopped');
  }

  set(state, detail = {}) {
    this.state = state;
    this.onState(state, detail);
  }

  drop() {
    if (!this.ws) return;
    const ws = this.ws;
    this.ws = null;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    if (ws.readyState <= WebSocket.OPEN) ws.close(1000, 'client done');
    link.closed();
  }

  connect(state) {
    this.drop();
    if (state) this.set(state, { attempt: this.attempt });
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}/ws`);
    this.ws = ws;
    ws.onopen = () => {
      // The token travels in the first message, never in the URL.
      ws.send(JSON.stringify({ type: 'hello', token: this.token(), since: this.since() }));
    };
    ws.onmessage = (e) => {
      link.heardFrom();
      this.receive(JSON.parse(e.data));
    };
    ws.onclose = (e) => this.closed(e.code);
  }

  receive(msg) {
    if (msg.type === 'welcome') {
      this.attempt = 0;
      this.set('live', { head: msg.head });
    } else if (msg.type === 'event') {
      this.onEvent(msg);
    } else if (msg.type === 'resync') {
      this.resync();
    } // 'heartbeat' and types this console does not know: heard, nothing else to do
  }

  async resync() {
    this.drop();
    this.set('resyncing');
    try {
      await this.onResync();
    } catch {
      return this.retry();
    }
    if (!this.stopped) this.connect('connecting');
  }

  closed(code) {
    this.ws = null;
    link.closed();
    if (this.stopped) return;
    if (code === UNAUTHORIZED) {
      this.set('stopped', { refused: true });
      this.onRefused();
      return;
    }
    if (code === TOO_SLOW) this.connect('reconnecting'); // resume at once from `since`
    else this.retry();
  }

  retry() {
    if (this.stopped) return;
    this.attempt += 1;
    // Exponential backoff with jitter, so a restarted hub is not stormed by every console.
    const cap = document.visibilityState === 'hidden' ? MAX_DELAY_HIDDEN_MS : MAX_DELAY_VISIBLE_MS;
    const base = Math.min(cap, 250 * 2 ** Math.min(this.attempt - 1, 8));
    const delay = Math.round(base * (0.5 + Math.random() / 2));
    this.set('reconnecting', { attempt: this.attempt, retryAt: Date.now() + delay });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /**
   * Try now: the user pressed "reconnect now", the browser came back online or the
   * tab became visible. A socket that is open but silent (stale) is replaced too.
   */
  now() {
    if (this.stopped || this.state === 'resyncing') return;
    if (this.state === 'live' && link.isLive()) return;
    if (this.state === 'connecting' && this.ws) return;
    clearTimeout(this.timer);
    this.connect('reconnecting');
  }
}
