// Form plumbing shared by the RFA and offer forms: fields with their own error
// line (cleared as soon as the field changes), problem+json `errors`
// ("items.0.quantity") shown beside the field named, times entered in UTC with the
// zone written beside them, decimals with a point or a comma.
import * as api from './api.js';
import { h } from './dom.js';
import { typeName, unitWord } from './format.js';
import { t } from './i18n.js';
import { state } from './store.js';

let made = 0;
const idOf = (name) => `f${(made += 1)}-${name.replace(/[^a-z0-9]+/gi, '-')}`;

/** A labelled control with a help line and an error line, found by data-field. */
export function field(name, text, control, help) {
  const id = idOf(name);
  control.id = id;
  control.name = name;
  control.setAttribute('aria-describedby', `${id}-error${help ? ` ${id}-help` : ''}`);
  const labelEl = control.type === 'checkbox'
    ? h('label', { for: id, class: 'check' }, control, ` ${text}`)
    : h('label', { for: id, text });
  const error = h('p', { class: 'field-error', id: `${id}-error`, 'aria-live': 'polite' });
  const holder = h('div', { class: 'field', dataset: { field: name } },
    labelEl,
    control.type === 'checkbox' ? null : control.type === 'datetime-local' ? utcBox(control) : control,
    help ? h('p', { class: 'help', id: `${id}-help`, text: help }) : null,
    error);
  // A message about a field goes as soon as the field is changed: it may be fixed.
  const clear = () => {
    error.textContent = '';
    holder.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
  };
  holder.addEventListener('input', clear);
  holder.addEventListener('change', clear);
  return holder;
}

/** A time input with "UTC" written beside it, and a button that fills in now. */
function utcBox(control) {
  const now = h('button', { type: 'button', class: 'ghost now', text: t('form.now'),
    onclick: () => { control.value = utcNow(); control.dispatchEvent(new Event('input', { bubbles: true })); } });
  return h('span', { class: 'utc-box' }, control, h('span', { class: 'zone', text: t('form.utc') }), now);
}

export function clearErrors(form) {
  for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

/** Put each message beside its field (or its nearest named parent); the rest in `summary`. */
export function showErrors(form, errors, summary) {
  const unplaced = [];
  let first = null;
  for (const [key, message] of Object.entries(errors)) {
    const holder = find(form, key);
    if (!holder) {
      unplaced.push(`${fieldName(form, key)}: ${message}`);
      continue;
    }
    const line = holder.querySelector('.field-error');
    line.textContent = line.textContent ? `${line.textContent}; ${message}` : message;
    const control = holder.querySelector('input, select, textarea');
    control?.setAttribute('aria-invalid', 'true');
    first ??= control;
  }
  if (unplaced.length) summary.textContent += ` ${unplaced.join('; ')}`;
  first?.focus();
}

/** The translated label of the field nearest to `key`, for messages placed in the summary. */
function fieldName(form, key) {
  return find(form, key)?.querySelector('label')?.textContent || key;
}

function find(form, key) {
  for (let parts = key.split('.'); parts.length; parts.pop()) {
    const holder = form.querySelector(`[data-field="${CSS.escape(parts.join('.'))}"]`);
    if (holder) return holder;
  }
  return null;
}

/** The taxonomy as a <select>, grouped by its top-level classes. */
export function typeSelect() {
  const select = h('select', { required: true }, h('option', { value: '', text: t('form.choose_type') }));
  const roots = [...state.types.values()].filter((x) => !x.parent);
  for (const root of roots.sort((a, b) => typeName(a.code).localeCompare(typeName(b.code)))) {
    const group = h('optgroup', { label: typeName(root.code) });
    for (const x of [...state.types.values()].filter((y) => y.code === root.code || y.code.startsWith(`${root.code}.`))) {
      group.append(h('option', { value: x.code, text: `${typeName(x.code)} (${unitWord(x.unit)}) — ${x.code}` }));
    }
    select.append(group);
  }
  return select;
}

/** <input type=datetime-local> value, read as UTC (the zone written beside it) → RFC 3339. */
export function rfc3339(value) {
  if (!value) return null;
  const d = new Date(`${value.length === 16 ? `${value}:00` : value}Z`);
  return Number.isNaN(d.getTime()) ? null : d.toISOString().replace('.000Z', 'Z');
}

/** Now in UTC as a datetime-local value (only when the user asks for it). */
export function utcNow() {
  return new Date().toISOString().slice(0, 16);
}

export function wholeNumber(value) {
  return /^\d+$/.test(String(value).trim()) && Number(value) > 0;
}

/** "37,58" or "37.58" (or with a typographic minus) → 37.58; NaN if not a number. */
export function decimalNumber(value) {
  const text = String(value).trim().replace(/^[−–]/, '-');
  return /^-?\d+([.,]\d+)?$/.test(text) ? Number(text.replace(',', '.')) : NaN;
}

/** Latitude/longitude pair from two fields; errors keyed by their names. */
export function point(latText, lonText, latKey, lonKey, errors) {
  const lat = decimalNumber(latText), lon = decimalNumber(lonText);
  if (!(Math.abs(lat) <= 90)) errors[latKey] = t(latText ? 'form.lat_range' : 'form.lat_missing');
  if (!(Math.abs(lon) <= 180)) errors[lonKey] = t(lonText ? 'form.lon_range' : 'form.lon_missing');
  return { lat, lon };
}

/**
 * POST with an Idempotency-Key made for this submission; the same key is used again
 * only to retry the very same body after no answer came (network failure).
 */
export function idempotentPoster(path) {
  let last = null;
  return async (body) => {
    const text = JSON.stringify(body);
    if (!last || last.text !== text || last.answered) last = { text, key: api.idempotencyKey() };
    try {
      const result = await api.post(path, body, { headers: { 'Idempotency-Key': last.key } });
      last.answered = true;
      return result;
    } catch (err) {
      if (err.status !== 0) last.answered = true;
      throw err;
    }
  };
}
