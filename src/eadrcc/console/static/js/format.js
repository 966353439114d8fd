// Words and numbers as the console shows them.
import { state } from './store.js';

const NUMBER = new Intl.NumberFormat('en-GB');
export const num = (n) => NUMBER.format(n ?? 0);

export function time(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toISOString().slice(11, 16) + 'Z';
}

export function dateTime(iso) {
  if (!iso) return '—';
  return new Date(iso).toISOString().slice(0, 16).replace('T', ' ') + 'Z';
}

export function ago(iso) {
  if (!iso) return '';
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function country(code) {
  if (!code) return '—';
  const p = state.partners.get(code);
  return p ? p.name : code;
}

export function typeName(code) {
  const t = state.types.get(code);
  return t ? t.name : code;
}

export function unit(code) {
  return state.types.get(code)?.unit || '';
}

export const CHANNELS = {
  direct: 'Direct',
  eu_ucpm: 'EU Civil Protection Mechanism',
  bilateral: 'Bilateral',
  un: 'United Nations',
  other: 'Other',
};

export const label = (s) => String(s || '').replace(/_/g, ' ');

/** One line saying what an event did, for the feed. */
export function summary(event) {
  const d = event.data || {};
  switch (event.kind) {
    case 'emergency.created': return `Emergency opened: ${d.title}`;
    case 'emergency.updated': return `${d.title} is now ${d.status}`;
    case 'request.created':
      return `${d.requesting_country} requests ${d.needs?.length ?? 0} kind(s) of help`;
    case 'need.updated': return `Need amended: ${typeName(d.resource_type)} ×${num(d.requested)}`;
    case 'offer.created': return `${d.offering_country} offers ${items(d)} (${label(d.channel)})`;
    case 'offer.withdrawn': return `${d.offering_country} withdrew ${items(d)}`;
    case 'alert.received': return `Alert: ${d.headline || d.event}`;
    case 'alert.acknowledged': return `Alert acknowledged: ${d.headline || d.event}`;
    case 'partner.updated': return `Partner record ${d.code} (${d.name}) updated`;
    default:
      if (event.kind.startsWith('match.')) {
        return `${d.offering_country} → ${d.requesting_country}: ${typeName(d.resource_type)}`
          + ` ×${num(d.quantity)} ${event.kind.slice(6)}`;
      }
      return event.kind;
  }
}

function items(offer) {
  const list = offer.items || [];
  const first = list.slice(0, 2).map((i) => `${typeName(i.resource_type)} ×${num(i.quantity)}`);
  return first.join(', ') + (list.length > 2 ? ` +${list.length - 2} more` : '');
}
