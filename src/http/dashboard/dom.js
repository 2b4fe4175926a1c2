// @ts-check
// Building the DOM.
//
// SECURITY: everything agents wrote (titles, specs, notes, results, errors, names) is untrusted.
// The DOM is built with createElement/textContent only (see `h` and `svg`): never innerHTML, never
// an href or attribute made from such text except through setAttribute on inert attributes. Text
// loses its terminal escape sequences and control characters on the way in (`stripTerminal`).

import { stripTerminal } from './format.js';

/** @typedef {Node | string | number | boolean | null | undefined | readonly unknown[]} Child a node, text, or a (nested) list of them */
/** @typedef {Record<string, unknown> | null | undefined} Attrs */

/**
 * Creates an element. Children that are not nodes become text nodes (never parsed as HTML).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {Child[]} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  add(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Creates an SVG element, as `h` does.
 * @template {keyof SVGElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {Child[]} children
 * @returns {SVGElementTagNameMap[K]}
 */
export function svg(tag, attrs, ...children) {
  const el = /** @type {SVGElementTagNameMap[K]} */ (document.createElementNS(SVG_NS, tag));
  setAttrs(el, attrs);
  add(el, children);
  return el;
}

/**
 * @param {HTMLElement | SVGElement} el
 * @param {Attrs} attrs
 */
function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function')
      el.addEventListener(key.slice(2), /** @type {EventListener} */ (value));
    else if (key.startsWith('on')) throw new Error(`event handler ${key} must be a function`);
    else if (key === 'class') el.setAttribute('class', String(value));
    else if (key === 'dataset')
      for (const [k, v] of Object.entries(/** @type {Record<string, unknown>} */ (value)))
        el.dataset[k] = String(v);
    else if (key === 'value') /** @type {HTMLInputElement} */ (el).value = String(value);
    else el.setAttribute(key, value === true ? '' : stripTerminal(String(value)));
  }
}

/**
 * @param {Element} el
 * @param {Child[]} children
 */
function add(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(stripTerminal(String(child))));
  }
}
