// A nation offers help: items picked from the taxonomy, credentials picked from the
// hub's list; validation beside each field, and the server's problem+json errors
// (their `detail` in English) beside the field they name, its label translated.
import { run } from '../actions.js';
import * as api from '../api.js';
import { h, fill } from '../dom.js';
import { CHANNEL_CODES, channel as channelName, country } from '../format.js';
import { clearErrors, field, idempotentPoster, point, rfc3339, showErrors, typeSelect, wholeNumber } from '../forms.js';
import { t } from '../i18n.js';
import { loadEmergency } from '../loader.js';
import { isPoc, me } from '../session.js';
import { emergencyRequests, state } from '../store.js';

let credentials = null; // GET /api/v1/credentials, fetched once

export function mount(main, { id }) {
  const post = idempotentPoster('/api/v1/offers');
  const items = h('ol', { class: 'item-rows' });
  const summary = h('p', { class: 'form-summary', role: 'alert' });
  const done = h('p', { class: 'form-done', role: 'status' });
  const note = h('p', { class: 'action-note', role: 'status' });
  const nation = isPoc()
    ? h('input', { type: 'text', value: me().country, readonly: true })
    : h('select', { required: true }, h('option', { value: '', text: t('offer.choose_nation') }),
      [...state.partners.values()].sort((a, b) => a.name.localeCompare(b.name)).map((p) => h('option', { value: p.code, text: `${p.name} (${p.code})` })));
  const channel = h('select', { required: true }, h('option', { value: '', text: t('offer.choose_channel') }),
    CHANNEL_CODES.map((c) => h('option', { value: c, text: channelName(c) })));
  const request = h('select', {}, h('option', { value: '', text: t('offer.any_rfa') }));
  const form = h('form', { class: 'card form', novalidate: true, 'aria-labelledby': 'offer-title' },
    h('div', { class: 'form-grid' },
      field('offering_country', t('offer.nation'), nation),
      field('channel', t('offer.channel'), channel),
      field('request_id', t('offer.answer_to'), request)),
    h('h3', { text: t('offer.items') }), items,
    h('button', { type: 'button', class: 'add-item', text: t('offer.add_item'), onclick: () => addItem() }),
    field('notes', t('form.notes'), h('textarea', { rows: 2, maxlength: 4000 })),
    summary,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary', 'data-action': 'offer', text: t('offer.submit') }), done),
    note);
  main.append(h('div', { class: 'page-head' },
    h('div', {}, h('a', { href: `#/e/${id}`, class: 'back', text: t('common.back') }),
      h('h2', { class: 'page-title', id: 'offer-title', text: t('emergency.offer_help') }))), form);
  addItem();

  loadEmergency(id).then(() => {
    const e = state.emergencies.get(id);
    main.querySelector('#offer-title').textContent = t('offer.title_for', { title: e.title });
    for (const r of emergencyRequests(id)) request.append(h('option', { value: r.id, text: `${country(r.requesting_country)} — ${r.reference || r.id}` }));
  }).catch(() => {});
  credentials ??= api.get('/api/v1/credentials').catch(() => { credentials = null; return []; });
  credentials.then(() => [...items.children].forEach(fillCredentials));

  function addItem() {
    const n = items.children.length;
    const row = h('li', { class: 'item-row' },
      h('div', { class: 'form-grid' },
        field(`items.${n}.resource_type`, t('form.resource_type'), typeSelect()),
        field(`items.${n}.quantity`, t('form.quantity'), h('input', { type: 'text', inputmode: 'numeric', required: true })),
        field(`items.${n}.available_from`, t('offer.available_from'), h('input', { type: 'datetime-local', required: true }), t('form.utc_help')),
        field(`items.${n}.origin.lat`, t('offer.origin_lat'), h('input', { type: 'text', inputmode: 'decimal' })),
        field(`items.${n}.origin.lon`, t('offer.origin_lon'), h('input', { type: 'text', inputmode: 'decimal' })),
        field(`items.${n}.self_sufficient`, t('offer.self_sufficient'), h('input', { type: 'checkbox' }))),
      h('fieldset', { class: 'field credentials', dataset: { field: `items.${n}.credentials` } },
        h('legend', { text: t('offer.credentials') }),
        h('p', { class: 'help', text: t('offer.credentials_help') }),
        h('div', { class: 'credential-list' }),
        h('p', { class: 'field-error', 'aria-live': 'polite' })),
      n ? h('button', { type: 'button', class: 'ghost remove', text: t('offer.remove_item'), onclick: () => { row.remove(); renumber(); } }) : null);
    const type = row.querySelector('select');
    type.addEventListener('change', () => fillCredentials(row));
    const creds = row.querySelector('.credentials');
    creds.addEventListener('change', () => { creds.querySelector('.field-error').textContent = ''; });
    items.append(row);
    fillCredentials(row);
    if (n) type.focus();
  }

  /** Checkboxes for the credentials that fit the chosen resource type (all of them before one is chosen). */
  async function fillCredentials(row) {
    const list = await (credentials || Promise.resolve([]));
    const holder = row.querySelector('.credential-list');
    const type = row.querySelector('select').value;
    const fits = (c) => !type || c.applies_to.some((a) => type === a || type.startsWith(`${a}.`));
    const ticked = new Set([...holder.querySelectorAll('input:checked')].map((i) => i.value));
    const n = [...items.children].indexOf(row);
    fill(holder, list.filter(fits).map((c) => h('label', { class: 'check credential' },
      h('input', { type: 'checkbox', name: `items.${n}.credentials`, value: c.code, checked: ticked.has(c.code) }), ` ${c.name} `,
      h('span', { class: 'muted', text: `(${c.code})` }))));
    if (!holder.children.length) holder.append(h('p', { class: 'muted', text: t('offer.no_credential') }));
  }

  // Names follow positions (items.0, items.1…) so the server's error keys find them.
  function renumber() {
    [...items.children].forEach((row, n) => {
      for (const holder of row.querySelectorAll('[data-field]')) {
        const name = holder.dataset.field.replace(/^items\.\d+\./, `items.${n}.`);
        holder.dataset.field = name;
        for (const control of holder.querySelectorAll('input, select, textarea')) control.name = name;
      }
    });
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    summary.textContent = '';
    done.textContent = '';
    const { body, errors } = read();
    if (Object.keys(errors).length) {
      summary.textContent = t('form.correct');
      return showErrors(form, errors, summary);
    }
    const offer = await run(form.querySelector('[type=submit]'), note, () => post(body), {
      onError: (err) => {
        summary.textContent = t('form.refused', { title: err.problem?.title || t('offer.not_sent'), detail: err.message });
        showErrors(form, err.errors || {}, summary);
      },
    });
    if (offer) fill(done, t('offer.sent', { id: offer.id, count: offer.matches.length }), ' ', h('a', { href: `#/e/${id}`, text: t('form.see_emergency') }));
  });

  function read() {
    const value = (name) => form.elements.namedItem(name)?.value?.trim() ?? '';
    const errors = {};
    const body = { emergency_id: id, offering_country: value('offering_country'), channel: value('channel'), items: [] };
    if (!body.offering_country) errors.offering_country = t('offer.nation_needed');
    if (!body.channel) errors.channel = t('offer.channel_needed');
    if (value('request_id')) body.request_id = value('request_id');
    if (value('notes')) body.notes = value('notes');
    [...items.children].forEach((row, n) => {
      const p = `items.${n}.`;
      const item = { resource_type: value(`${p}resource_type`), quantity: Number(value(`${p}quantity`)),
        available_from: rfc3339(value(`${p}available_from`)), self_sufficient: form.elements.namedItem(`${p}self_sufficient`).checked,
        credentials: [...row.querySelectorAll('.credentials input:checked')].map((c) => c.value) };
      if (!item.resource_type) errors[`${p}resource_type`] = t('offer.type_needed');
      if (!wholeNumber(value(`${p}quantity`))) errors[`${p}quantity`] = t('form.whole_number');
      if (!item.available_from) errors[`${p}available_from`] = t('offer.when_needed');
      const [lat, lon] = [value(`${p}origin.lat`), value(`${p}origin.lon`)];
      if (lat || lon) item.origin = point(lat, lon, `${p}origin.lat`, `${p}origin.lon`, errors);
      body.items.push(item);
    });
    return { body, errors };
  }
  return {};
}
