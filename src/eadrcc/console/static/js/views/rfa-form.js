// A stricken nation files a request for assistance: needs picked from the taxonomy.
import { h, fill } from '../dom.js';
import { country } from '../format.js';
import { clearErrors, field, idempotentPoster, localNow, rfc3339, showErrors, typeSelect, wholeNumber } from '../forms.js';
import { loadEmergency } from '../loader.js';
import { isPoc, me } from '../session.js';
import { state } from '../store.js';

export function mount(main, { id }) {
  const post = idempotentPoster(`/api/v1/emergencies/${encodeURIComponent(id)}/requests`);
  const needs = h('ol', { class: 'item-rows' });
  const summary = h('p', { class: 'form-summary', role: 'alert' });
  const done = h('p', { class: 'form-done', role: 'status' });
  const nation = isPoc() ? h('input', { type: 'text', value: me().country, readonly: true }) : h('select', { required: true });
  const form = h('form', { class: 'card form', novalidate: true, 'aria-labelledby': 'rfa-title' },
    h('div', { class: 'form-grid' },
      field('requesting_country', 'Requesting nation', nation),
      field('reference', 'Your reference (optional)', h('input', { type: 'text', maxlength: 200 }))),
    h('h3', { text: 'Needs' }), needs,
    h('button', { type: 'button', class: 'add-item', text: '+ Add a need', onclick: () => addNeed() }),
    field('notes', 'Notes (optional)', h('textarea', { rows: 2, maxlength: 4000 })),
    summary,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary', text: 'File the request' }), done));
  main.append(h('div', { class: 'page-head' },
    h('div', {}, h('a', { href: `#/e/${id}`, class: 'back', text: '← Back to the emergency' }),
      h('h2', { class: 'page-title', id: 'rfa-title', text: 'Request for assistance' }))), form);
  addNeed();

  loadEmergency(id).then(() => {
    const e = state.emergencies.get(id);
    main.querySelector('#rfa-title').textContent = `Request for assistance: ${e.title}`;
    if (!isPoc()) for (const c of e.countries) nation.append(h('option', { value: c, text: country(c) }));
  }).catch(() => {});

  function addNeed() {
    const n = needs.children.length;
    const row = h('li', { class: 'item-row' }, h('div', { class: 'form-grid' },
      field(`needs.${n}.resource_type`, 'Resource type', typeSelect()),
      field(`needs.${n}.quantity`, 'Quantity', h('input', { type: 'text', inputmode: 'numeric', required: true })),
      field(`needs.${n}.priority`, 'Priority', h('select', {}, ['critical', 'high', 'normal'].map((p) => h('option', { value: p, text: p })))),
      field(`needs.${n}.needed_by`, 'Needed by (optional)', h('input', { type: 'datetime-local', value: localNow(24) })),
      field(`needs.${n}.delivery.place`, 'Delivery place', h('input', { type: 'text', maxlength: 200 })),
      field(`needs.${n}.delivery.lat`, 'Latitude', h('input', { type: 'text', inputmode: 'decimal' })),
      field(`needs.${n}.delivery.lon`, 'Longitude', h('input', { type: 'text', inputmode: 'decimal' }))));
    needs.append(row);
    if (n) row.querySelector('select').focus();
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
      const rfa = await post(body);
      fill(done, `Request filed (${rfa.id}) with ${rfa.needs.length} need(s). `, h('a', { href: `#/e/${id}`, text: 'See the emergency' }));
    } catch (err) {
      summary.textContent = `${err.problem?.title || 'Not filed'}: ${err.message}`;
      showErrors(form, err.errors || {}, summary);
    } finally {
      button.disabled = false;
    }
  });

  function read() {
    const value = (name) => form.elements.namedItem(name)?.value.trim() ?? '';
    const errors = {};
    const body = { requesting_country: value('requesting_country'), needs: [] };
    if (!body.requesting_country) errors.requesting_country = 'Choose the requesting nation.';
    if (value('reference')) body.reference = value('reference');
    if (value('notes')) body.notes = value('notes');
    [...needs.children].forEach((_row, n) => {
      const p = `needs.${n}.`;
      const need = { resource_type: value(`${p}resource_type`), quantity: Number(value(`${p}quantity`)), priority: value(`${p}priority`) };
      if (value(`${p}needed_by`)) need.needed_by = rfc3339(value(`${p}needed_by`));
      if (!need.resource_type) errors[`${p}resource_type`] = 'Choose what is needed.';
      if (!wholeNumber(value(`${p}quantity`))) errors[`${p}quantity`] = 'A whole number greater than 0.';
      const [lat, lon, place] = [value(`${p}delivery.lat`), value(`${p}delivery.lon`), value(`${p}delivery.place`)];
      if (lat || lon) {
        need.delivery = { lat: Number(lat), lon: Number(lon), ...(place ? { place } : {}) };
        if (lat === '' || !(Math.abs(need.delivery.lat) <= 90)) errors[`${p}delivery.lat`] = 'Latitude: −90 to 90.';
        if (lon === '' || !(Math.abs(need.delivery.lon) <= 180)) errors[`${p}delivery.lon`] = 'Longitude: −180 to 180.';
      } else if (place) errors[`${p}delivery.lat`] = 'Give the place’s latitude and longitude too.';
      body.needs.push(need);
    });
    return { body, errors };
  }
  return {};
}
