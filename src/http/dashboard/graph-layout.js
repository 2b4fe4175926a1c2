// @ts-check
// The layout of a workflow's dependency graph, without the DOM: where each task's box goes and
// the path of each dependency edge.
//
// Tasks are placed in layers by dependency depth (a task's layer is the length of the longest
// chain of dependencies before it), left to right; a layer taller than the graph's row limit wraps
// into several columns. Boxes sit on a grid of rows and columns, so the space between two columns
// (a gap) and between two rows (a channel) holds no box. Edges are drawn only there:
//
//   out of its source's right side at a port of its own, along the gap after the source's column,
//   along a channel to the gap before the target's column when they are not neighbours, and into
//   the target's left side at a port of its own.
//
// Every edge has its own ports, its own vertical track in each gap it uses and its own horizontal
// track in the channel it uses, and outgoing ports never share a height with incoming ones: so no
// edge crosses a box, and no two edges share a segment (they may cross at a point).

/** @typedef {{ id: number, dependsOn?: number[] | null }} GraphTask */
/** @typedef {{ x: number, y: number }} Point */
/**
 * @typedef {object} NodeBox
 * @property {number} id
 * @property {number} x
 * @property {number} y
 * @property {number} width
 * @property {number} height
 * @property {number} layer  dependency depth
 * @property {number} column
 * @property {number} row
 */
/**
 * @typedef {object} EdgePath
 * @property {number} from  the dependency
 * @property {number} to    the task that depends on it
 * @property {Point[]} points  the polyline, from the source's right side to the target's left side
 */
/**
 * @typedef {object} GraphLayout
 * @property {number} width
 * @property {number} height
 * @property {Map<number, NodeBox>} nodes
 * @property {EdgePath[]} edges
 */

export const NODE_WIDTH = 240;
export const NODE_HEIGHT = 56;
/** Room between the top of a box and its first port. */
const PORT_MARGIN = 8;
/** Distance between two ports of the same kind on a side; ins sit halfway between outs. */
const PORT_PITCH = 6;
/** Distance between two tracks in a gap or a channel. */
const TRACK = 6;
/** Width of a gap and height of a channel, before their tracks. */
const GAP = 40;
const CHANNEL = 16;
const PAD = 12;

/**
 * How many rows the graph may have: about the square root of its size, so that a wide workflow
 * is not one tall column.
 * @param {number} n
 */
export function rowLimit(n) {
  return Math.max(6, Math.ceil(Math.sqrt(n * 2)));
}

/**
 * Dependency depth of every task (dependencies outside the list are ignored; a cycle, which the
 * server never stores, is cut).
 * @param {GraphTask[]} tasks
 */
function depths(tasks) {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  /** @type {Map<number, number>} */
  const depth = new Map();
  /** @type {Set<number>} */
  const visiting = new Set();
  /** @param {GraphTask} t @returns {number} */
  const depthOf = (t) => {
    const known = depth.get(t.id);
    if (known !== undefined) return known;
    if (visiting.has(t.id)) return 0;
    visiting.add(t.id);
    let d = 0;
    for (const dep of t.dependsOn ?? []) {
      const parent = byId.get(dep);
      if (parent) d = Math.max(d, depthOf(parent) + 1);
    }
    visiting.delete(t.id);
    depth.set(t.id, d);
    return d;
  };
  for (const t of tasks) depthOf(t);
  return depth;
}

/**
 * @param {GraphTask[]} tasks
 * @param {{ maxRows?: number }} [options]
 * @returns {GraphLayout}
 */
export function layoutGraph(tasks, options = {}) {
  const ids = new Set(tasks.map((t) => t.id));
  const depth = depths(tasks);
  /** @type {GraphTask[][]} */
  const layers = [];
  for (const t of [...tasks].sort((a, b) => a.id - b.id)) (layers[depth.get(t.id) ?? 0] ??= []).push(t);
  const maxRows = Math.max(1, options.maxRows ?? rowLimit(tasks.length));

  // Order each layer by the mean position of its tasks' dependencies (one barycentre pass), then
  // cut it into columns of at most maxRows, filled top to bottom.
  /** @type {Map<number, number>} */
  const order = new Map();
  /** @type {{ column: number, row: number, layer: number }[]} */
  const cells = [];
  /** @type {Map<number, { column: number, row: number, layer: number }>} */
  const cellOf = new Map();
  let column = 0;
  let rows = 1;
  layers.forEach((layer = [], d) => {
    if (d > 0) {
      /** @param {GraphTask} t */
      const score = (t) => {
        const parents = (t.dependsOn ?? []).filter((p) => order.has(p));
        return parents.length
          ? parents.reduce((n, p) => n + (order.get(p) ?? 0), 0) / parents.length
          : Infinity;
      };
      layer.sort((a, b) => score(a) - score(b) || a.id - b.id);
    }
    const columns = Math.max(1, Math.ceil(layer.length / maxRows));
    const perColumn = Math.ceil(layer.length / columns);
    rows = Math.max(rows, perColumn);
    layer.forEach((t, i) => {
      order.set(t.id, i / Math.max(1, layer.length - 1));
      const cell = { column: column + Math.floor(i / perColumn), row: i % perColumn, layer: d };
      cellOf.set(t.id, cell);
      cells.push(cell);
    });
    column += columns;
  });
  const columns = column;
  // Centre short columns vertically (whole rows, so the grid stays a grid).
  /** @type {number[]} */
  const columnRows = Array(columns).fill(0);
  for (const c of cells) columnRows[c.column] = Math.max(columnRows[c.column] ?? 0, c.row + 1);
  for (const c of cells) c.row += Math.floor((rows - (columnRows[c.column] ?? rows)) / 2);

  // The edges, and the ports each needs on its ends.
  /** @type {{ from: number, to: number }[]} */
  const links = [];
  for (const t of tasks)
    for (const dep of t.dependsOn ?? [])
      if (ids.has(dep) && dep !== t.id) links.push({ from: dep, to: t.id });
  /** @param {number} id */
  const cell = (id) => /** @type {{ column: number, row: number, layer: number }} */ (cellOf.get(id));
  /** @type {Map<number, typeof links>} */
  const outs = new Map();
  /** @type {Map<number, typeof links>} */
  const ins = new Map();
  for (const l of links) {
    (outs.get(l.from) ?? outs.set(l.from, []).get(l.from))?.push(l);
    (ins.get(l.to) ?? ins.set(l.to, []).get(l.to))?.push(l);
  }
  /** @param {number} id */
  const rank = (id) => cell(id).row * 1e6 + cell(id).column;
  for (const list of outs.values()) list.sort((a, b) => rank(a.to) - rank(b.to));
  for (const list of ins.values()) list.sort((a, b) => rank(a.from) - rank(b.from));

  // A box is tall enough for its ports; a row is as tall as its tallest box.
  /** @param {number} n */
  const heightFor = (n) =>
    Math.max(NODE_HEIGHT, 2 * PORT_MARGIN + PORT_PITCH * Math.max(0, n - 1) + PORT_PITCH / 2 + 1);
  /** @type {Map<number, number>} */
  const nodeHeight = new Map();
  /** @type {number[]} */
  const rowHeight = Array(rows).fill(NODE_HEIGHT);
  for (const t of tasks) {
    const hgt = heightFor(Math.max(outs.get(t.id)?.length ?? 0, ins.get(t.id)?.length ?? 0));
    nodeHeight.set(t.id, hgt);
    const r = cell(t.id).row;
    rowHeight[r] = Math.max(rowHeight[r] ?? 0, hgt);
  }

  // Which gaps and channels each edge uses, to size them before placing anything.
  /** @typedef {{ link: { from: number, to: number }, channel: number | null }} Route */
  /** @type {Route[]} */
  const routes = links.map((link) => {
    const a = cell(link.from);
    const b = cell(link.to);
    if (b.column === a.column + 1) return { link, channel: null };
    // The channel (the boundary above row k; k = rows is below the last) nearest both ends.
    const candidates = [a.row, a.row + 1, b.row, b.row + 1];
    const cost = (/** @type {number} */ k) => Math.abs(k - (a.row + 0.5)) + Math.abs(k - (b.row + 0.5));
    const channel = candidates.reduce((best, k) => (cost(k) < cost(best) ? k : best));
    return { link, channel };
  });
  /** @type {Route[][]} tracks of each gap (between column g and g + 1) */
  const gapUsers = Array.from({ length: Math.max(0, columns - 1) }, () => /** @type {Route[]} */ ([]));
  /** @type {Route[][]} tracks of each channel */
  const channelUsers = Array.from({ length: rows + 1 }, () => /** @type {Route[]} */ ([]));
  for (const r of routes) {
    const a = cell(r.link.from);
    const b = cell(r.link.to);
    gapUsers[a.column]?.push(r);
    if (r.channel !== null) {
      gapUsers[b.column - 1]?.push(r);
      channelUsers[r.channel]?.push(r);
    }
  }
  const gapWidth = gapUsers.map((u) => GAP + TRACK * u.length);
  const channelHeight = channelUsers.map(
    (u, k) => (k === 0 || k === rows ? (u.length ? CHANNEL : 0) : CHANNEL) + TRACK * u.length,
  );

  // Place the columns and rows.
  /** @type {number[]} */
  const columnX = [];
  let x = PAD;
  for (let c = 0; c < columns; c++) {
    columnX.push(x);
    x += NODE_WIDTH + (gapWidth[c] ?? 0);
  }
  const width = x + PAD;
  /** @type {number[]} */
  const rowY = [];
  /** @type {number[]} */
  const channelY = [];
  let y = PAD;
  for (let r = 0; r <= rows; r++) {
    channelY.push(y);
    y += channelHeight[r] ?? 0;
    if (r < rows) {
      rowY.push(y);
      y += rowHeight[r] ?? NODE_HEIGHT;
    }
  }
  const height = y + PAD;

  /** @type {Map<number, NodeBox>} */
  const nodes = new Map();
  for (const t of tasks) {
    const c = cell(t.id);
    nodes.set(t.id, {
      id: t.id,
      x: columnX[c.column] ?? PAD,
      y: rowY[c.row] ?? PAD,
      width: NODE_WIDTH,
      height: nodeHeight.get(t.id) ?? NODE_HEIGHT,
      layer: c.layer,
      column: c.column,
      row: c.row,
    });
  }

  // Ports: outs at PORT_PITCH steps from a box's top margin, ins halfway between (so an edge
  // leaving a box never runs along one entering the box beside it), both centred on the box.
  /**
   * @param {NodeBox} box
   * @param {number} n how many
   * @param {number} i which
   * @param {boolean} incoming
   */
  const portY = (box, n, i, incoming) => {
    const slots = Math.floor((box.height - 2 * PORT_MARGIN - PORT_PITCH / 2) / PORT_PITCH) + 1;
    const first = Math.max(0, Math.floor((slots - n) / 2));
    return box.y + PORT_MARGIN + PORT_PITCH * (first + i) + (incoming ? PORT_PITCH / 2 : 0);
  };
  /**
   * Tracks: centred in their gap or channel, in the order given.
   * @param {Route[]} users
   * @param {number} start
   * @param {number} size
   */
  const tracks = (users, start, size) => {
    /** @type {Map<Route, number>} */
    const at = new Map();
    const first = start + (size - TRACK * (users.length - 1)) / 2;
    users.forEach((u, i) => at.set(u, first + TRACK * i));
    return at;
  };
  /** @type {Map<Route, { out: number, in: number }>} the heights of each edge's two ports */
  const ends = new Map();
  for (const r of routes) {
    const a = /** @type {NodeBox} */ (nodes.get(r.link.from));
    const b = /** @type {NodeBox} */ (nodes.get(r.link.to));
    const aOuts = outs.get(a.id) ?? [];
    const bIns = ins.get(b.id) ?? [];
    ends.set(r, {
      out: portY(a, aOuts.length, aOuts.indexOf(r.link), false),
      in: portY(b, bIns.length, bIns.indexOf(r.link), true),
    });
  }
  /** @param {Route} r */
  const yOut = (r) => ends.get(r)?.out ?? 0;
  /** @param {Route} r */
  const yIn = (r) => ends.get(r)?.in ?? 0;

  // In each gap, order the tracks so that edges cross less: by where they come from, then go.
  /** @type {Map<Route, number>[]} */
  const gapTracks = gapUsers.map((users, g) => {
    const sorted = [...users].sort((p, q) => yOut(p) - yOut(q) || yIn(p) - yIn(q));
    return tracks(sorted, (columnX[g] ?? 0) + NODE_WIDTH, gapWidth[g] ?? GAP);
  });
  /** @type {Map<Route, number>[]} */
  const channelTracks = channelUsers.map((users, k) => {
    const sorted = [...users].sort(
      (p, q) => cell(p.link.from).column - cell(q.link.from).column || yOut(p) - yOut(q),
    );
    return tracks(sorted, channelY[k] ?? 0, channelHeight[k] ?? CHANNEL);
  });

  /** @type {EdgePath[]} */
  const edges = routes.map((r) => {
    const a = /** @type {NodeBox} */ (nodes.get(r.link.from));
    const b = /** @type {NodeBox} */ (nodes.get(r.link.to));
    const y1 = yOut(r);
    const y2 = yIn(r);
    const x1 = /** @type {number} */ (gapTracks[a.column]?.get(r));
    /** @type {Point[]} */
    const points = [
      { x: a.x + a.width, y: y1 },
      { x: x1, y: y1 },
    ];
    if (r.channel === null) {
      points.push({ x: x1, y: y2 });
    } else {
      const yc = /** @type {number} */ (channelTracks[r.channel]?.get(r));
      const x2 = /** @type {number} */ (gapTracks[b.column - 1]?.get(r));
      points.push({ x: x1, y: yc }, { x: x2, y: yc }, { x: x2, y: y2 });
    }
    points.push({ x: b.x - 1, y: y2 });
    return { from: r.link.from, to: r.link.to, points };
  });
  return { width, height, nodes, edges };
}

/**
 * An SVG path through the points, its corners rounded (within the segments they join).
 * @param {Point[]} points
 * @param {number} [radius]
 */
export function roundedPath(points, radius = 5) {
  const p = points.filter((q, i) => i === 0 || q.x !== points[i - 1]?.x || q.y !== points[i - 1]?.y);
  if (p.length === 0) return '';
  const first = /** @type {Point} */ (p[0]);
  let d = `M ${first.x} ${first.y}`;
  for (let i = 1; i < p.length - 1; i++) {
    const prev = /** @type {Point} */ (p[i - 1]);
    const at = /** @type {Point} */ (p[i]);
    const next = /** @type {Point} */ (p[i + 1]);
    const lenIn = Math.hypot(at.x - prev.x, at.y - prev.y);
    const lenOut = Math.hypot(next.x - at.x, next.y - at.y);
    const r = Math.min(radius, lenIn / 2, lenOut / 2);
    const bx = at.x - ((at.x - prev.x) / lenIn) * r;
    const by = at.y - ((at.y - prev.y) / lenIn) * r;
    const ax = at.x + ((next.x - at.x) / lenOut) * r;
    const ay = at.y + ((next.y - at.y) / lenOut) * r;
    d += ` L ${round(bx)} ${round(by)} Q ${at.x} ${at.y} ${round(ax)} ${round(ay)}`;
  }
  const last = /** @type {Point} */ (p[p.length - 1]);
  return `${d} L ${last.x} ${last.y}`;
}

/** @param {number} n */
function round(n) {
  return Math.round(n * 100) / 100;
}
