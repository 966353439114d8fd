// The "could help" part of a need row: nations whose standing capacities could fill
// it, best first, and for a POC whose nation declared one, a one-click offer.
import { offerCapacity, providersOf } from '../capacities.js';
import { h, fill, toggle } from '../dom.js';
import { country, decimal, num } from '../format.js';
import { t } from '../i18n.js';
import { can, me } from '../session.js';

const SHOWN = 4;
// need id → what this console offered for it: the confirmation stays after the
// nation's capacity leaves the list (it has offered it now).
const offered = new Map();

export function couldHelpCell() {
  return h('div', { class: 'could-help' });
}

export function fillCouldHelp(el, need) {
  const providers = need.status === 'open' && need.uncovered_quantity > 0 ? providersOf(need) : [];
  const done = offered.get(need.id);
  const key = JSON.stringify([providers, need.uncovered_quantity, done]);
  if (el.dataset.shown === key) return; // leave a quantity being typed alone
  el.dataset.shown = key;
  const note = done ? h('span', { class: 'offer-done', dataset: { offerId: done.id }, text: done.text }) : null;
  if (!providers || !providers.length) {
    fill(el, note);
    return;
  }
  const ours = providers.filter((p) => p.source === 'declared' && p.country === me()?.country
    && can('offer.create', [p.country]));
  const others = providers.filter((p) => !ours.includes(p));
  fill(el,
    h('span', { class: 'could-help-title', text: t('couldhelp.title') }), ' ',
    h('ul', { class: 'chips providers' }, others.slice(0, SHOWN).map(chip)),
    others.length > SHOWN ? h('span', { class: 'muted', text: t('common.more', { count: others.length - SHOWN }) }) : null,
    ours.map((p) => offerForm(p, need)), note);
}

function chip(p) {
  const hours = t('couldhelp.ready_in', { hours: decimal(p.ready_in_hours, 1) });
  return h('li', {
    class: `chip provider ${p.source}`,
    dataset: { country: p.country, capacityId: p.capacity_id, source: p.source },
    title: [p.resource_type, p.credentials.join(', '), t(`capacities.source.${p.source}`)].filter(Boolean).join(' · '),
    text: `${country(p.country)} ×${num(p.quantity)} · ${hours}${p.source === 'public' ? ` · ${t('capacities.source.public')}` : ''}`,
  });
}

function offerForm(p, need) {
  const quantity = h('input', {
    type: 'number', min: 1, max: p.quantity, step: 1, required: true, class: 'qty',
    value: Math.max(1, Math.min(p.quantity, need.uncovered_quantity)),
    'aria-label': t('couldhelp.quantity'),
  });
  const button = h('button', { type: 'submit', class: 'primary', text: t('couldhelp.offer') });
  const status = h('span', { class: 'offer-status', role: 'status', 'aria-live': 'polite' });
  const form = h('form', { class: 'capacity-offer', dataset: { capacityId: p.capacity_id } },
    h('span', { text: t('couldhelp.ours', { hours: decimal(p.ready_in_hours, 1) }) }), ' ',
    quantity, ' ', button, ' ', status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    toggle(form, 'failed', false);
    status.textContent = t('couldhelp.sending');
    try {
      const offer = await offerCapacity(p.capacity_id, {
        emergency_id: need.emergency_id,
        request_id: need.request_id,
        quantity: Number(quantity.value),
        channel: 'direct',
      });
      const text = t('couldhelp.offered', { quantity: num(offer.items[0].quantity) });
      offered.set(need.id, { id: offer.id, text });
      form.dataset.offerId = offer.id;
      status.textContent = text;
    } catch (err) {
      toggle(form, 'failed', true);
      status.textContent = t('couldhelp.failed', { reason: Object.values(err.errors || {})[0] || err.message });
      button.disabled = false;
    }
  });
  return form;
}
