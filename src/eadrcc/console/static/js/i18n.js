// The console's words: one message catalogue per language (../i18n/<lang>.json),
// chosen by ?lang=, then the saved choice, then the browser's language.
//
//   import { t } from './i18n.js';
//   t('board.title')                          → "Emergencies"
//   t('offers.count', { count: 3 })           → "3 offers" (plural forms: {"one":…,"other":…})
//   t('feed.offered', { country: 'Norway' })  → "{country} offers …" with the value put in
//
// Every key lives in BOTH en.json and fr.json (tests/unit/test_console_catalogue.py
// fails otherwise). Numbers given as params are formatted for the language.
// Static HTML is translated through data-i18n="key" (text) and
// data-i18n-attr="attribute:key[,attribute:key]".
export const LANGUAGES = { en: 'English', fr: 'Français' };
const DEFAULT = 'en';
const SAVED = 'eadrcc.lang';
// Locales for Intl: British English and French as written in France.
const LOCALES = { en: 'en-GB', fr: 'fr-FR' };

let current = DEFAULT;
let messages = {};
let plurals = new Intl.PluralRules(LOCALES[DEFAULT]);
let numbers = new Intl.NumberFormat(LOCALES[DEFAULT]);

/** The language in use ('en' or 'fr') and its Intl locale. */
export const lang = () => current;
export const locale = () => LOCALES[current];

/** ?lang= wins (and is saved), then the saved choice, then the browser's language. */
export function choose(search = location.search) {
  const asked = new URLSearchParams(search).get('lang');
  if (asked in LANGUAGES) {
    save(asked);
    return asked;
  }
  const saved = read();
  if (saved in LANGUAGES) return saved;
  const browser = (navigator.language || '').slice(0, 2).toLowerCase();
  return browser in LANGUAGES ? browser : DEFAULT;
}

/** Fetch the chosen catalogue, set <html lang> and translate the static page. */
export async function load(language = choose()) {
  const url = new URL(`../i18n/${language}.json`, import.meta.url);
  const response = await fetch(url, { credentials: 'omit' });
  if (!response.ok) throw new Error(`catalogue ${language}: HTTP ${response.status}`);
  use(language, await response.json());
  translatePage(document);
}

/** Install a catalogue (also used by tests). */
export function use(language, catalogue) {
  current = language;
  messages = catalogue;
  plurals = new Intl.PluralRules(LOCALES[language]);
  numbers = new Intl.NumberFormat(LOCALES[language]);
  document.documentElement.lang = language;
}

/** The message for `key` with {name} placeholders filled from `params`. */
export function t(key, params = {}) {
  let message = messages[key];
  if (message === undefined) {
    console.warn('eadrcc: no message', key); // a visible key is a bug the tests catch
    return key;
  }
  if (typeof message === 'object') {
    const n = Number(params.count ?? 0);
    message = message[n === 0 && 'zero' in message ? 'zero' : plurals.select(n)] ?? message.other;
  }
  return message.replace(/\{(\w+)\}/g, (whole, name) => {
    const value = params[name];
    if (value === undefined || value === null) return whole;
    return typeof value === 'number' ? numbers.format(value) : String(value);
  });
}

/** Does the catalogue have `key`? (for values that may come from the server: t('status.x') or the raw value) */
export const has = (key) => key in messages;

/** t(`${prefix}.${value}`) when the catalogue has it, else the value itself. */
export const term = (prefix, value) => (has(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : String(value ?? ''));

/** Switch language: saved, written in the URL (so a reload or a shared link keeps it), page reloaded. */
export function switchTo(language) {
  if (!(language in LANGUAGES) || language === current) return;
  save(language);
  const url = new URL(location.href);
  url.searchParams.set('lang', language);
  location.replace(url.toString());
}

/** Translate elements carrying data-i18n / data-i18n-attr under `root`. */
export function translatePage(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(',')) {
      const [attr, key] = pair.split(':').map((s) => s.trim());
      el.setAttribute(attr, t(key));
    }
  }
  if (root === document) document.title = t('app.title');
}

function save(language) {
  try {
    localStorage.setItem(SAVED, language);
  } catch { /* storage refused (private mode): the URL still carries it */ }
}

function read() {
  try {
    return localStorage.getItem(SAVED);
  } catch {
    return null;
  }
}
