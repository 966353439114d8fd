// Words, numbers and times as the console shows them, in the chosen language.
// Times are always shown in UTC with the zone written ("19:28 UTC").
import { now as clockNow } from './clock.js';
import { has, locale, t, term } from './i18n.js';
import { state } from './store.js';

const cache = new Map();
/** One Intl formatter per (kind, locale), made on first use. */
function intl(kind, make) {
  const key = `${kind}:${locale()}`;
  if (!cache.has(key)) cache.set(key, make(locale()));
  return cache.get(key);
}

export const num = (n) => intl('num', (l) => new Intl.NumberFormat(l)).format(n ?? 0);
export const decimal = (n, digits = 2) =>
  intl(`dec${digits}`, (l) => new Intl.NumberFormat(l, { minimumFractionDigits: digits, maximumFractionDigits: digits })).format(n ?? 0);

const UTC = { timeZone: 'UTC', hourCycle: 'h23' };

export function time(iso) {
  if (!iso) return '—';
  return intl('time', (l) => new Intl.DateTimeFormat(l, { ...UTC, hour: '2-digit', minute: '2-digit', timeZoneName: 'short' }))
    .format(new Date(iso));
}

export function dateTime(iso) {
  if (!iso) return '—';
  return intl('dt', (l) => new Intl.DateTimeFormat(l, {
    ...UTC, day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short',
  })).format(new Date(iso));
}

/** "3 min ago" / "il y a 3 min"; the views refresh these on a timer. */
export function ago(iso, now = clockNow()) {
  if (!iso) return '';
  const rtf = intl('rel', (l) => new Intl.RelativeTimeFormat(l, { numeric: 'auto', style: 'short' }));
  const s = Math.max(0, (now - new Date(iso).getTime()) / 1000);
  if (s < 90) return rtf.format(-Math.round(s), 'second');
  if (s < 5400) return rtf.format(-Math.round(s / 60), 'minute');
  if (s < 172800) return rtf.format(-Math.round(s / 3600), 'hour');
  return rtf.format(-Math.round(s / 86400), 'day');
}

/** How long ago in words without "ago": for "data from 2 min ago". */
export function age(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return t('age.seconds', { count: s });
  return t('age.minutes', { count: Math.round(s / 60) });
}

export function country(code) {
  if (!code) return '—';
  const p = state.partners.get(code);
  return p ? p.name : code;
}

/** A resource type's name: the catalogue's for the language (the hub's taxonomy is in
 * English, so only other languages translate it, by code), else the taxonomy's. */
export function typeName(code) {
  const type = state.types.get(code);
  if (!type) return code;
  return has(`type.${code}`) ? t(`type.${code}`) : type.name;
}

/** A unit word (the taxonomy's `unit`: "team") in the language ("équipe"). */
export const unitWord = (word) => term('unit', word);

/** A type's unit in words, the same way. */
export function unit(code) {
  const word = state.types.get(code)?.unit;
  return word ? unitWord(word) : '';
}

export const CHANNEL_CODES = ['direct', 'eu_ucpm', 'bilateral', 'un', 'other'];
export const channel = (code) => term('channel', code);

/** A server value (status, priority, severity, hazard…) in words: the catalogue's, else the value. */
export const label = (s, prefix = 'value') => term(prefix, s).replace(/_/g, ' ');

/** One line saying what an event did, for the feed. */
export function summary(event) {
  const d = event.data || {};
  switch (event.kind) {
    case 'emergency.created': return t('event.emergency_created', { title: d.title });
    case 'emergency.updated': return t('event.emergency_updated', { title: d.title, status: label(d.status, 'status') });
    case 'request.created':
      return t('event.request_created', { country: country(d.requesting_country), count: d.needs?.length ?? 0 });
    case 'need.updated': return t('event.need_updated', { type: typeName(d.resource_type), quantity: d.requested });
    case 'offer.created': return t('event.offer_created', { country: country(d.offering_country), items: items(d), channel: channel(d.channel) });
    case 'offer.withdrawn': return t('event.offer_withdrawn', { country: country(d.offering_country), items: items(d) });
    case 'alert.received': return t('event.alert_received', { headline: d.headline || d.event });
    case 'alert.acknowledged': return t('event.alert_acknowledged', { headline: d.headline || d.event });
    case 'alert.linked': return t('event.alert_linked', { headline: d.headline || d.event });
    case 'partner.updated': return t('event.partner_updated', { code: d.code, name: d.name });
    case 'request.circulated': return t('event.request_circulated', { country: country(d.country) });
    case 'response.updated': return t('event.response_updated', { country: country(d.country), state: t(`responses.state.${d.state}`) });
    case 'response.reminder': return t('event.response_reminder', { country: country(d.country) });
    case 'response.overdue': return t('event.response_overdue', { country: country(d.country) });
    case 'subscription.suspended':
    case 'subscription.resumed':
      return t(`event.${event.kind.replace('.', '_')}`, {
        country: d.country ? country(d.country) : t('delivery.staff_view'), kind: t(`delivery.kind_${d.kind}`),
      });
    default:
      if (event.kind.startsWith('capacity.')) {
        return t(`event.${event.kind.replace('.', '_')}`, {
          country: country(d.country), type: typeName(d.resource_type), quantity: d.quantity,
          date: d.valid_until ? dateTime(d.valid_until) : '—',
        });
      }
      if (event.kind.startsWith('match.')) {
        return t('event.match', {
          from: country(d.offering_country), to: country(d.requesting_country), type: typeName(d.resource_type),
          quantity: d.quantity, what: label(event.kind.slice(6), 'match'),
        });
      }
      return event.kind;
  }
}

function items(offer) {
  const list = offer.items || [];
  const first = list.slice(0, 2).map((i) => t('common.times', { name: typeName(i.resource_type), quantity: i.quantity }));
  return first.join(', ') + (list.length > 2 ? ` ${t('common.more', { count: list.length - 2 })}` : '');
}
