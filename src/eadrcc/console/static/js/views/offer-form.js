// A nation offers help: items picked from the taxonomy; validation beside each
// field, and the server's problem+json errors shown beside the field they name.
import { h, fill } from '../dom.js';
import { CHANNEL_CODES, channel as channelName, country } from '../format.js';
import { clearErrors, field, idempotentPoster, localNow, rfc3339, showErrors, typeSelect, wholeNumber } from '../forms.js';
import { loadEmergency } from '../loader.js';
import { isPoc, me } from '../session.js';
import { emergencyRequests, state } from '../store.js';

export function mount(main, { id }) {
  const post = idempotentPoster('/api/v1/offers');
  const items = h('ol', { class: 'item-rows' });
  const summary = h('p', { class: 'form-summary', role: 'alert' });
  const done = h('p', { class: 'form-done', role: 'status' });
  const nation = isPoc()
    ? h('input', { type: 'text', value: me().country, readonly: true })
    : h('select', { required: true }, h('option', { value: '', text: 'Choose the offering nation…' }),
      [...state.partners.values()].sort((a, b) => a.name.localeCompare(b.name)).map((p) => h('option', { value: p.code, text: `${p.name} (${p.code})` })));
  const channel = h('select', {}, CHANNEL_CODES.map((c) => [c, channelName(c)]).map(([v, t]) => h('option', { value: v, text: t })));
  const request = h('select', {}, h('option', { value: '', text: 'Any RFA of this emergency' }));
  const notes = h('textarea', { rows: 2, maxlength: 4000 });
  const form = h('form', { class: 'card form', novalidate: true },
    h('div', { class: 'form-grid' },
      field('offering_country', 'Offering nation', nation),
      field('channel', 'Channel', channel),
      field('request_id', 'In answer to', request)),
    h('h3', { text: 'Items' }), items,
    h('button', { type: 'button', class: 'add-item', text: '+ Add an item', onclick: () => addItem() }),
    field('notes', 'Notes (optional)', notes),
    summary,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary', text: 'Send the offer' }), done));
  main.append(h('div', { class: 'page-head' },
    h('div', {}, h('a', { href: `#/e/${id}`, class: 'back', text: '← Back to the emergency' }),
      h('h2', { class: 'page-title', id: 'offer-title', text: 'Offer help' }))), form);
  form.setAttribute('aria-labelledby', 'offer-title');
  addItem();

  loadEmergency(id).then(() => {
    const e = state.emergencies.get(id);
    main.querySelector('#offer-title').textContent = `Offer help: ${e.title}`;
    for (const r of emergencyRequests(id)) request.append(h('option', { value: r.id, text: `${country(r.requesting_country)} — ${r.reference || r.id}` }));
  }).catch(() => {});

  function addItem() {
    const n = items.children.length;
    const row = h('li', { class: 'item-row' },
      h('div', { class: 'form-grid' },
        field(`items.${n}.resource_type`, 'Resource type', typeSelect()),
        field(`items.${n}.quantity`, 'Quantity', h('input', { type: 'text', inputmode: 'numeric', required: true })),
        field(`items.${n}.available_from`, 'Available from', h('input', { type: 'datetime-local', required: true, value: localNow() })),
        field(`items.${n}.origin.lat`, 'Origin latitude', h('input', { type: 'text', inputmode: 'decimal' })),
        field(`items.${n}.origin.lon`, 'Origin longitude', h('input', { type: 'text', inputmode: 'decimal' })),
        field(`items.${n}.credentials`, 'Credentials', h('input', { type: 'text' }), 'Codes, comma-separated, e.g. insarag.classified'),
        field(`items.${n}.self_sufficient`, 'Self-sufficient', h('input', { type: 'checkbox' }))),
      n ? h('button', { type: 'button', class: 'ghost remove', text: 'Remove this item', onclick: () => { row.remove(); renumber(); } }) : null);
    items.append(row);
    if (n) row.querySelector('select').focus();
  }

  // Names follow positions (items.0, items.1…) so the server's error keys find them.
  function renumber() {
    [...items.children].forEach((row, n) => {
      for (const holder of row.querySelectorAll('[data-field]')) {
        const name = holder.dataset.field.replace(/^items\.\d+\./, `items.${n}.`);
        const control = holder.querySelector('input, select, textarea');
        holder.dataset.field = name;
        control.name = name;
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
      summary.textContent = 'Please correct the fields marked.';
      return showErrors(form, errors, summary);
    }
    const button = form.querySelector('[type=submit]');
    button.disabled = true;
    try {
      const offer = await post(body);
      fill(done, `Offer sent (${offer.id}): ${offer.matches.length} match(es) proposed at once. `,
        h('a', { href: `#/e/${id}`, text: 'See the emergency' }));
    } catch (err) {
      summary.textContent = `${err.problem?.title || 'Not sent'}: ${err.message}`;
      showErrors(form, err.errors || {}, summary);
    } finally {
      button.disabled = false;
    }
  });

  function read() {
    const value = (name) => form.elements.namedItem(name)?.value.trim() ?? '';
    const errors = {};
    const body = { emergency_id: id, offering_country: value('offering_country'), channel: value('channel'), items: [] };
    if (!body.offering_country) errors.offering_country = 'Choose the offering nation.';
    if (value('request_id')) body.request_id = value('request_id');
    if (value('notes')) body.notes = value('notes');
    [...items.children].forEach((_row, n) => {
      const p = `items.${n}.`;
      const item = { resource_type: value(`${p}resource_type`), quantity: Number(value(`${p}quantity`)),
        available_from: rfc3339(value(`${p}available_from`)), self_sufficient: form.elements.namedItem(`${p}self_sufficient`).checked,
        credentials: value(`${p}credentials`).split(',').map((c) => c.trim()).filter(Boolean) };
      if (!item.resource_type) errors[`${p}resource_type`] = 'Choose what you offer.';
      if (!wholeNumber(value(`${p}quantity`))) errors[`${p}quantity`] = 'A whole number greater than 0.';
      if (!item.available_from) errors[`${p}available_from`] = 'When can it leave?';
      const [lat, lon] = [value(`${p}origin.lat`), value(`${p}origin.lon`)];
      if (lat || lon) {
        item.origin = { lat: Number(lat), lon: Number(lon) };
        if (!(Math.abs(item.origin.lat) <= 90) || lat === '') errors[`${p}origin.lat`] = 'Latitude: −90 to 90.';
        if (!(Math.abs(item.origin.lon) <= 180) || lon === '') errors[`${p}origin.lon`] = 'Longitude: −180 to 180.';
      }
      body.items.push(item);
    });
    return { body, errors };
  }
  return {};
}
