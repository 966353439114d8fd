// Sign in with a token. It is kept in sessionStorage (gone when the tab closes).
import * as api from '../api.js';
import { h } from '../dom.js';
import * as session from '../session.js';

export function mount(main, { message, onSignedIn }) {
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false',
    required: true, 'aria-describedby': 'token-help token-error',
  });
  const error = h('p', { id: 'token-error', class: 'field-error', role: 'alert', text: message || '' });
  const button = h('button', { type: 'submit', class: 'primary', text: 'Sign in' });
  const form = h('form', { class: 'signin card', novalidate: true },
    h('h2', { text: 'Sign in' }),
    h('div', { class: 'field' },
      h('label', { for: 'token', text: 'Access token' }),
      input,
      h('p', { id: 'token-help', class: 'help', text: 'Paste the token you were issued (eadrcc token create). It stays in this tab only.' }),
      error),
    button);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (!value) {
      error.textContent = 'Enter your token.';
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
      error.textContent = err.status === 401 ? 'This token is not recognised (unknown or revoked).' : err.message;
      button.disabled = false;
      input.focus();
    }
  });
  main.append(h('div', { class: 'signin-wrap' }, form));
  input.focus();
  return { destroy() {} };
}

export const mountSignIn = mount;
