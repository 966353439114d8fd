// Form plumbing shared by the RFA and offer forms: fields with their own error
// line, problem+json `errors` ("items.0.quantity") shown beside the field named.
import * as api from './api.js';
import { h } from './dom.js';
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
  return h('div', { class: 'field', dataset: { field: name } },
    labelEl, control.type === 'checkbox' ? null : control,
    help ? h('p', { class: 'help', id: `${id}-help`, text: help }) : null,
    h('p', { class: 'field-error', id: `${id}-error`, 'aria-live': 'polite' }));
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
      unplaced.push(`${key}: ${message}`);
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

function find(form, key) {
  for (let parts = key.split('.'); parts.length; parts.pop()) {
    const holder = form.querySelector(`[data-field="${CSS.escape(parts.join('.'))}"]`);
    if (holder) return holder;
  }
  return null;
}

/** The taxonomy as a <select>, grouped by its top-level classes. */
export function typeSelect() {
  const select = h('select', { required: true }, h('option', { value: '', text: 'Choose a resource type…' }));
  const roots = [...state.types.values()].filter((t) => !t.parent);
  for (const root of roots.sort((a, b) => a.name.localeCompare(b.name))) {
    const group = h('optgroup', { label: root.name });
    for (const t of [...state.types.values()].filter((x) => x.code === root.code || x.code.startsWith(`${root.code}.`))) {
      group.append(h('option', { value: t.code, text: `${t.name} (${t.unit}) — ${t.code}` }));
    }
    select.append(group);
  }
  return select;
}

/** <input type=datetime-local> value (local time) → RFC 3339. */
export const rfc3339 = (value) => (value ? new Date(value).toISOString() : null);

export function localNow(hours = 0) {
  const d = new Date(Date.now() + hours * 3600_000);
  d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
  return d.toISOString().slice(0, 16);
}

export function wholeNumber(value) {
  return /^\d+$/.test(String(value).trim()) && Number(value) > 0;
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
