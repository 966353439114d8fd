// A guarded action: a small inline form that asks for the emergency's title typed
// out, or a reason, before a consequential change (closing, dismissing, reopening).
import { h } from './dom.js';
import { t } from './i18n.js';

let made = 0;

/**
 * A button that opens the form; `onConfirm(reason)` runs the change once the title
 * (case and spacing aside) or a reason of at least a few words is given.
 * { label, title, danger, reasonRequired }.
 */
export function guarded({ label, title, danger = true, reasonRequired = false, onConfirm }) {
  made += 1;
  const id = `guard-${made}`;
  const open = h('button', { type: 'button', class: danger ? 'danger' : 'primary', text: label, 'aria-expanded': 'false', 'aria-controls': id });
  const input = h('input', { type: 'text', id: `${id}-input`, autocomplete: 'off', 'aria-describedby': `${id}-help ${id}-error` });
  const error = h('p', { class: 'field-error', id: `${id}-error`, 'aria-live': 'polite' });
  const note = h('p', { class: 'action-note', role: 'status' });
  const confirm = h('button', { type: 'submit', class: danger ? 'danger' : 'primary', 'data-action': 'confirm', text: t('guard.confirm', { action: label }) });
  const form = h('form', { class: 'guard card', id, hidden: true, novalidate: true },
    h('label', { for: `${id}-input`, text: reasonRequired ? t('guard.reason_label') : t('guard.label') }),
    input,
    h('p', { class: 'help', id: `${id}-help`, text: reasonRequired ? t('guard.reason_help') : t('guard.help', { title }) }),
    error,
    h('div', { class: 'form-actions' }, confirm,
      h('button', { type: 'button', class: 'ghost', text: t('guard.cancel'), onclick: () => toggle(false) })),
    note);
  const norm = (s) => s.trim().toLowerCase().replace(/\s+/g, ' ');

  function toggle(on) {
    form.hidden = !on;
    open.setAttribute('aria-expanded', String(on));
    if (on) input.focus();
    else open.focus();
  }
  open.addEventListener('click', () => toggle(form.hidden));
  input.addEventListener('input', () => { error.textContent = ''; input.removeAttribute('aria-invalid'); });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const typed = input.value.trim();
    const matchesTitle = !reasonRequired && norm(typed) === norm(title);
    const reason = typed.split(/\s+/).filter(Boolean).length >= 2 ? typed : '';
    if (!matchesTitle && !reason) {
      error.textContent = reasonRequired ? t('guard.reason_needed') : t('guard.needed');
      input.setAttribute('aria-invalid', 'true');
      return input.focus();
    }
    await onConfirm({ reason: matchesTitle ? null : reason, button: confirm, note });
  });
  return h('span', { class: 'guarded' }, open, form);
}
