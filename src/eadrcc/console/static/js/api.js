// fetch() for the hub's API: bearer token, JSON, and RFC 9457 problems as ApiError.
import { t } from './i18n.js';
import { token } from './session.js';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.errors = problem.errors || {};
  }
}

export async function request(method, path, { body, headers = {}, accept } = {}) {
  const response = await send(method, path, body, { Accept: accept || 'application/json', ...headers });
  if (response.status === 204) return null;
  return (accept || '').startsWith('text/') ? response.text() : response.json();
}

export const get = (path, options) => request('GET', path, options);
export const post = (path, body, options) => request('POST', path, { ...options, body });
export const patch = (path, body, options) => request('PATCH', path, { ...options, body });

async function send(method, path, body, headers) {
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError(0, { title: t('api.unreachable_title'), detail: t('api.unreachable') });
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  return response;
}

async function problemOf(response) {
  if ((response.headers.get('Content-Type') || '').includes('json')) {
    try {
      return await response.json();
    } catch { /* fall through to a generic problem */ }
  }
  return { title: response.statusText, status: response.status, detail: `HTTP ${response.status}` };
}

/** A random Idempotency-Key (crypto.randomUUID needs a secure context; this does not). */
export function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Fetch a representation (Accept) and hand it to the browser as a download. */
export async function download(path, accept, filename) {
  const response = await send('GET', path, undefined, { Accept: accept });
  const blob = new Blob([await response.text()], { type: accept });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
