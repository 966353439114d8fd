// Small DOM helpers: build elements, and keep keyed lists in place.
import { num } from './format.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** h('div', {class: 'x', text: 'hi', onclick: f}, child, ...) — 'svg:rect' makes SVG. */
export function h(tag, props, ...children) {
  const svg = tag.startsWith('svg:');
  const el = svg ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Set text only when it changed (no needless layout work while events stream). */
export function setText(el, text) {
  const value = String(text ?? '');
  if (el.textContent !== value) el.textContent = value;
}

export function setAttr(el, name, value) {
  if (value === null || value === undefined || value === false) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== String(value)) el.setAttribute(name, String(value));
}

export function toggle(el, className, on) {
  if (el.classList.contains(className) !== Boolean(on)) el.classList.toggle(className, Boolean(on));
}

/**
 * Make `parent`'s children match `items` in order, reusing the element of each key:
 * create(item) builds a new one, update(el, item) refreshes it in place.
 */
export function syncList(parent, items, keyOf, create, update) {
  const existing = new Map();
  for (const el of parent.children) existing.set(el.dataset.key, el);
  let cursor = parent.firstElementChild;
  const seen = new Set();
  for (const item of items) {
    const key = String(keyOf(item));
    let el = existing.get(key);
    if (!el) {
      el = create(item);
      el.dataset.key = key;
    }
    update(el, item);
    seen.add(key);
    if (el === cursor) cursor = cursor.nextElementSibling;
    else parent.insertBefore(el, cursor);
  }
  for (const [key, el] of existing) if (!seen.has(key)) el.remove();
}

/** A row of big numbers: [[label, value, tone?], ...]; numbers are formatted for the language. */
export function kpis(pairs) {
  return h('div', { class: 'kpis' }, pairs.map(([label, value, tone]) =>
    h('div', { class: `kpi ${tone || ''}`, dataset: { kpi: label } },
      h('span', { class: 'kpi-value', text: typeof value === 'number' ? num(value) : value }),
      h('span', { class: 'kpi-label', text: label }))));
}
