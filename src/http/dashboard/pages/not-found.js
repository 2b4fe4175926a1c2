// @ts-check
// What a link to nothing shows: a sentence and the way back, not an error code.

import { h } from '../dom.js';

/**
 * @param {HTMLElement} c
 * @param {string} [message] the server's sentence (e.g. "task 999 not found")
 */
export function notFound(c, message) {
  const what = message ? message.charAt(0).toUpperCase() + message.slice(1) : 'There is no such page';
  c.replaceChildren(
    h(
      'section',
      { class: 'card not-found', id: 'not-found' },
      h('h1', null, 'Not found'),
      h('p', null, `${what.replace(/\.$/, '')}. It may never have existed, or the link is mistyped.`),
      h(
        'p',
        null,
        h('a', { href: '#/' }, 'Fleet overview'),
        ' · ',
        h('a', { href: '#/tasks' }, 'Tasks'),
        ' · ',
        h('a', { href: '#/workflows' }, 'Workflows'),
      ),
    ),
  );
}
