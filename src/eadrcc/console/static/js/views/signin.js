// Sign in with a token. It is kept in sessionStorage (gone when the tab closes).
import * as api from '../api.js';
import { h } from '../dom.js';
import { t } from '../i18n.js';
import * as session from '../session.js';

export function mount(main, { message, onSignedIn }) {
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false',
    required: true, 'aria-describedby': 'token-help token-error',
  });
  const error = h('p', { id: 'token-error', class: 'field-error', role: 'alert', text: message || '' });
  const button = h('button', { type: 'submit', class: 'primary', text: t('signin.submit') });
  const form = h('form', { class: 'signin card', novalidate: true },
    h('h2', { text: t('signin.title') }),
    h('div', { class: 'field' },
      h('label', { for: 'token', text: t('signin.token') }),
      input,
      h('p', { id: 'token-help', class: 'help', text: t('signin.help') }),
      error),
    button);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (!value) {
      error.textContent = t('signin.empty');
      return input.focus();
    }
    button.disabled = true;
    error.textContent = '';
    session.signIn(value, null);
    try {
      const who = await api.get('/api/v1/me');
      session.signIn(value, who);
      input.value = '';
      await onSignedIn();
    } catch (err) {
      session.signOut();
      error.textContent = err.status === 401 ? t('signin.unknown') : err.message;
      button.disabled = false;
      input.focus();
    }
  });
  main.append(h('div', { class: 'signin-wrap' }, form));
  input.focus();
  return { destroy() {} };
}

export const mountSignIn = mount;
