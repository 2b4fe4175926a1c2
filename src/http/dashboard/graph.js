// @ts-check
// The workflow's dependency graph as SVG, laid out by graph-layout.js.

import { h, svg } from './dom.js';
import { clip, label } from './format.js';
import { layoutGraph, roundedPath } from './graph-layout.js';
import { empty } from './widgets.js';

/** @typedef {import('../../core/types.js').Task} Task */

/** @param {Task[]} tasks */
export function dependencyGraph(tasks) {
  if (tasks.length === 0) return empty('This workflow has no tasks.');
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const layout = layoutGraph(tasks);
  const root = svg('svg', {
    class: 'graph',
    viewBox: `0 0 ${layout.width} ${layout.height}`,
    width: layout.width,
    height: layout.height,
    role: 'img',
    'aria-label': 'dependency graph',
  });
  root.append(
    svg(
      'defs',
      null,
      svg(
        'marker',
        {
          id: 'arrow',
          viewBox: '0 0 10 10',
          refX: 9,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: 'auto-start-reverse',
        },
        svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' }),
      ),
    ),
  );
  const edges = svg('g', { class: 'edges' });
  for (const e of layout.edges) {
    const done = byId.get(e.from)?.status === 'completed';
    edges.append(
      svg(
        'path',
        {
          d: roundedPath(e.points),
          class: `edge${done ? ' done' : ''}`,
          'marker-end': 'url(#arrow)',
          dataset: { from: e.from, to: e.to },
        },
        svg('title', null, `#${e.from} → #${e.to}`),
      ),
    );
  }
  root.append(edges);

  const nodes = svg('g', { class: 'nodes' });
  for (const t of tasks) {
    const box = layout.nodes.get(t.id);
    if (!box) continue;
    const go = () => {
      location.hash = `#/tasks/${t.id}`;
    };
    const W = box.width;
    const H = box.height;
    const node = svg(
      'g',
      {
        class: `node st-${t.status}`,
        transform: `translate(${box.x} ${box.y})`,
        tabindex: 0,
        role: 'link',
        'aria-label': `task ${t.id}: ${t.title} (${label(t.status)})`,
        dataset: { task: t.id, status: t.status, layer: box.layer },
        onclick: go,
        onkeydown: (/** @type {KeyboardEvent} */ e) => {
          if (e.key === 'Enter' || e.key === ' ') {
            e.preventDefault();
            go();
          }
        },
      },
      svg(
        'title',
        null,
        `#${t.id} ${t.title}\n${label(t.status)}${t.lease ? ` · ${t.lease.agentName}` : ''}`,
      ),
      svg('rect', { class: 'node-box', width: W, height: H, rx: 8 }),
      svg('rect', { class: 'node-stripe', width: 5, height: H - 2, x: 1, y: 1, rx: 2 }),
      svg('text', { class: 'node-title', x: 14, y: 22, dataset: { fit: W - 24 } }, clip(t.title, 60)),
      svg(
        'text',
        { class: 'node-meta', x: 14, y: 42, dataset: { fit: W - 24 } },
        `#${t.id} · ${label(t.status)}${t.lease ? ` · ${clip(t.lease.agentName, 14)}` : ''}`,
      ),
    );
    // Progress is the running attempt's: drawn only while the task is in progress.
    if (t.progress.percent !== null && t.status === 'in_progress') {
      node.append(
        svg('rect', {
          class: 'node-progress',
          x: 6,
          y: H - 4,
          height: 3,
          width: ((W - 12) * Math.min(100, t.progress.percent)) / 100,
        }),
      );
    }
    nodes.append(node);
  }
  root.append(nodes);
  return h('div', { class: 'graph-scroll', tabindex: 0, 'aria-label': 'dependency graph (scrolls)' }, root);
}
