// A request for assistance: the requesting nation and its needs. Nothing is filled
// in that the user did not choose; times are UTC, written beside the field.
import { run } from '../actions.js';
import { h, fill } from '../dom.js';
import { country, label } from '../format.js';
import { clearErrors, field, idempotentPoster, point, rfc3339, showErrors, typeSelect, wholeNumber } from '../forms.js';
import { t } from '../i18n.js';
import { loadEmergency } from '../loader.js';
import { isPoc, me } from '../session.js';
import { state } from '../store.js';

export function mount(main, { id }) {
  const post = idempotentPoster(`/api/v1/emergencies/${encodeURIComponent(id)}/requests`);
  const needs = h('ol', { class: 'item-rows' });
  const summary = h('p', { class: 'form-summary', role: 'alert' });
  const done = h('p', { class: 'form-done', role: 'status' });
  const note = h('p', { class: 'action-note', role: 'status' });
  const nation = isPoc() ? h('input', { type: 'text', value: me().country, readonly: true })
    : h('select', { required: true }, h('option', { value: '', text: t('rfa.choose_nation') }));
  const form = h('form', { class: 'card form', novalidate: true, 'aria-labelledby': 'rfa-title' },
    h('div', { class: 'form-grid' },
      field('requesting_country', t('rfa.nation'), nation),
      field('reference', t('rfa.reference'), h('input', { type: 'text', maxlength: 200 }))),
    h('h3', { text: t('needs.title') }), needs,
    h('button', { type: 'button', class: 'add-item', text: t('rfa.add_need'), onclick: () => addNeed() }),
    field('notes', t('form.notes'), h('textarea', { rows: 2, maxlength: 4000 })),
    summary,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary', 'data-action': 'file', text: t('rfa.submit') }), done),
    note);
  main.append(h('div', { class: 'page-head' },
    h('div', {}, h('a', { href: `#/e/${id}`, class: 'back', text: t('common.back') }),
      h('h2', { class: 'page-title', id: 'rfa-title', text: t('rfa.title') }))), form);
  addNeed();

  loadEmergency(id).then(() => {
    const e = state.emergencies.get(id);
    main.querySelector('#rfa-title').textContent = t('rfa.title_for', { title: e.title });
    if (!isPoc()) for (const c of e.countries) nation.append(h('option', { value: c, text: country(c) }));
  }).catch(() => {});

  function addNeed() {
    const n = needs.children.length;
    const row = h('li', { class: 'item-row' }, h('div', { class: 'form-grid' },
      field(`needs.${n}.resource_type`, t('form.resource_type'), typeSelect()),
      field(`needs.${n}.quantity`, t('form.quantity'), h('input', { type: 'text', inputmode: 'numeric', required: true })),
      field(`needs.${n}.priority`, t('rfa.priority'), h('select', {},
        ['normal', 'high', 'critical'].map((p) => h('option', { value: p, text: label(p, 'priority') })))),
      field(`needs.${n}.needed_by`, t('rfa.needed_by'), h('input', { type: 'datetime-local' }), t('form.utc_help')),
      field(`needs.${n}.delivery.place`, t('rfa.place'), h('input', { type: 'text', maxlength: 200 })),
      field(`needs.${n}.delivery.lat`, t('form.latitude'), h('input', { type: 'text', inputmode: 'decimal' })),
      field(`needs.${n}.delivery.lon`, t('form.longitude'), h('input', { type: 'text', inputmode: 'decimal' }))));
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
      summary.textContent = t('form.correct');
      return showErrors(form, errors, summary);
    }
    const rfa = await run(form.querySelector('[type=submit]'), note, () => post(body), {
      onError: (err) => {
        summary.textContent = t('form.refused', { title: err.problem?.title || t('rfa.not_filed'), detail: err.message });
        showErrors(form, err.errors || {}, summary);
      },
    });
    if (rfa) fill(done, t('rfa.filed', { id: rfa.id, count: rfa.needs.length }), ' ', h('a', { href: `#/e/${id}`, text: t('form.see_emergency') }));
  });

  function read() {
    const value = (name) => form.elements.namedItem(name)?.value.trim() ?? '';
    const errors = {};
    const body = { requesting_country: value('requesting_country'), needs: [] };
    if (!body.requesting_country) errors.requesting_country = t('rfa.nation_needed');
    if (value('reference')) body.reference = value('reference');
    if (value('notes')) body.notes = value('notes');
    [...needs.children].forEach((_row, n) => {
      const p = `needs.${n}.`;
      const need = { resource_type: value(`${p}resource_type`), quantity: Number(value(`${p}quantity`)), priority: value(`${p}priority`) };
      if (value(`${p}needed_by`)) {
        need.needed_by = rfc3339(value(`${p}needed_by`));
        if (!need.needed_by) errors[`${p}needed_by`] = t('form.time_invalid');
      }
      if (!need.resource_type) errors[`${p}resource_type`] = t('rfa.type_needed');
      if (!wholeNumber(value(`${p}quantity`))) errors[`${p}quantity`] = t('form.whole_number');
      const [lat, lon, place] = [value(`${p}delivery.lat`), value(`${p}delivery.lon`), value(`${p}delivery.place`)];
      if (lat || lon) {
        need.delivery = { ...point(lat, lon, `${p}delivery.lat`, `${p}delivery.lon`, errors), ...(place ? { place } : {}) };
      } else if (place) errors[`${p}delivery.lat`] = t('rfa.place_needs_point');
      body.needs.push(need);
    });
    return { body, errors };
  }
  return {};
}
