/**
 * One source for the state machine: src/core/status.ts. This test reads the lifecycle's guards back
 * from each database's catalog, as the migrations left them (the stores are opened for real), and
 * requires that they say exactly what status.ts says — the status list (the status CHECK), the
 * final statuses (the finished-time CHECK) and the legal transitions (SQLite: the
 * `tasks_status_transition` trigger; PostgreSQL: that trigger's WHEN clause and the
 * `check_task_transition()` function it calls). Nothing missing, nothing extra. It also checks
 * status.ts against itself (MOVES, TRANSITIONS, allowedActions) and core/derive.ts's workflow status
 * against the status list.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ManualClock } from '../src/core/clock.js';
import { deriveWorkflowStatus } from '../src/core/derive.js';
import { DEFAULT_POLICY } from '../src/core/policy.js';
import {
  allowedActions,
  canTransition,
  FINAL_STATUSES,
  isFinal,
  isTaskStatus,
  MOVES,
  OPEN_STATUSES,
  TASK_STATUSES,
  TRANSITIONS,
  type TaskAction,
  type TaskOperation,
  type TaskStatus,
} from '../src/core/status.js';
import { openPostgresStore } from '../src/store/postgres/postgres-store.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { freshPostgresSchema, type FreshPostgresSchema } from './support/postgres.js';

// ── what status.ts says ─────────────────────────────────────────────────────────────────────────

/** "from>to" for every legal transition of a table. */
function pairsOf(transitions: Readonly<Record<string, readonly string[]>>): string[] {
  return Object.entries(transitions)
    .flatMap(([from, tos]) => tos.map((to) => `${from}>${to}`))
    .sort();
}

/** What a list read from a database lacks and has in excess, compared with the expected one. */
function difference(actual: readonly string[], expected: readonly string[]) {
  const a = new Set(actual);
  const e = new Set(expected);
  return {
    missing: [...e].filter((x) => !a.has(x)).sort(),
    extra: [...a].filter((x) => !e.has(x)).sort(),
    duplicated: actual.filter((x, i) => actual.indexOf(x) !== i),
  };
}

const SAME = { missing: [], extra: [], duplicated: [] };

// ── reading SQL ─────────────────────────────────────────────────────────────────────────────────

/** The string literals of a piece of SQL, in order ('' unescaped). */
function literals(sql: string): string[] {
  return [...sql.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1]!.replace(/''/g, "'"));
}

/** Lower case, no `::text` casts, no parentheses, single spaces: the shape of an expression. */
function shape(sql: string): string {
  return sql
    .replace(/::text/g, '')
    .replace(/[()]/g, ' ')
    .replace(/\s+/g, ' ')
    .replace(/ ,/g, ',')
    .trim()
    .toLowerCase();
}

/** The text inside the parenthesis that opens at `open` (string literals skipped). */
function parenthesized(sql: string, open: number): string {
  if (sql[open] !== '(') throw new Error(`no parenthesis at ${open} in: ${sql}`);
  let depth = 0;
  for (let i = open; i < sql.length; i++) {
    const c = sql[i];
    if (c === "'") {
      // Skip the literal ('' is a quote inside it).
      for (i++; i < sql.length && !(sql[i] === "'" && sql[i + 1] !== "'"); i += sql[i] === "'" ? 2 : 1);
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return sql.slice(open + 1, i);
  }
  throw new Error(`unbalanced parenthesis in: ${sql}`);
}

/**
 * The transition list of a trigger's WHEN clause — `instr(<list>, '|' || OLD.status || '>' ||
 * NEW.status || '|') = 0` (SQLite) or `strpos(...)` (PostgreSQL), `<list>` one or more string
 * literals joined by `||` — as its "from>to" pairs, and the clause with the list replaced by
 * `<list>` (to check what the clause does with it).
 */
function transitionList(when: string, fn: 'instr' | 'strpos'): { pairs: string[]; clause: string } {
  const at = when.search(new RegExp(`\\b${fn}\\s*\\(`, 'i'));
  if (at < 0) throw new Error(`no ${fn}( in the WHEN clause: ${when}`);
  const open = when.indexOf('(', at);
  const args = parenthesized(when, open);
  // The first argument: literals joined by || (with ::text casts), up to the first comma outside them.
  const listEnd = args.search(/,(?=(?:[^']*'[^']*')*[^']*$)/);
  const listSql = args.slice(0, listEnd);
  const rest = listSql.replace(/'((?:[^']|'')*)'/g, '').replace(/::text|\|\||\s/g, '');
  if (rest !== '') throw new Error(`the transition list is not only string literals: ${listSql}`);
  const list = literals(listSql).join('');
  if (!list.startsWith('|') || !list.endsWith('|')) throw new Error(`not a |-delimited list: ${list}`);
  const pairs = list
    .slice(1, -1)
    .split('|')
    .map((p) => {
      if (!/^[a-z_]+>[a-z_]+$/.test(p)) throw new Error(`not a from>to pair: "${p}" in ${list}`);
      return p;
    });
  const clause = `${when.slice(0, open + 1)}<list>${args.slice(listEnd)}${when.slice(open + 1 + args.length)}`;
  return { pairs, clause };
}

/** The statuses of `status = 'a' OR status = 'b' …` (the only form allowed there). */
function orChain(expr: string): string[] {
  return shape(expr)
    .split(' or ')
    .map((term) => {
      const m = /^status = '([^']*)'$/.exec(term.trim());
      if (!m) throw new Error(`not a "status = '…'" term: "${term}" in: ${expr}`);
      return m[1]!;
    });
}

interface Catalog {
  /** The statuses the status CHECK allows. */
  statuses: string[];
  /** The statuses the finished-time CHECK calls final. */
  finals: string[];
  /** Every status named by a CHECK on the tasks table. */
  named: string[];
  /** The transition pairs the trigger's WHEN clause lets through without a further check. */
  triggerPairs: string[];
  triggerClause: string;
}

// ── SQLite ──────────────────────────────────────────────────────────────────────────────────────

function readSqliteCatalog(file: string): Catalog & { triggerSql: string } {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const row = (type: string, name: string) => {
      const r = db.prepare('SELECT sql FROM sqlite_master WHERE type = ? AND name = ?').get(type, name) as
        { sql: string } | undefined;
      if (!r) throw new Error(`no ${type} ${name} in sqlite_master`);
      return r.sql;
    };
    const table = row('table', 'tasks');
    const column = /\bstatus\s+TEXT\s+NOT\s+NULL\s+CHECK\s*\(/i.exec(table);
    if (!column) throw new Error(`no "status TEXT NOT NULL CHECK (" column in: ${table}`);
    const statuses = orChain(parenthesized(table, column.index + column[0].length - 1));

    // The CHECK tying finished_at to the final statuses: (status = … OR …) = (finished_at IS NOT NULL).
    const checks = [...table.matchAll(/\bCHECK\s*\(/gi)].map((m) =>
      parenthesized(table, m.index + m[0].length - 1),
    );
    const finishedChecks = checks.filter((c) => /finished_at/i.test(c));
    if (finishedChecks.length !== 1)
      throw new Error(`expected one CHECK on finished_at, got ${finishedChecks.length}`);
    const fm = /^\s*\((.*)\)\s*=\s*\(\s*finished_at\s+IS\s+NOT\s+NULL\s*\)\s*$/is.exec(finishedChecks[0]!);
    if (!fm) throw new Error(`unexpected finished_at CHECK: ${finishedChecks[0]}`);
    const finals = orChain(fm[1]!);
    const named = checks.flatMap((c) =>
      [...c.matchAll(/\bstatus\s*(?:=|<>|!=)\s*'([^']*)'/gi)].map((m) => m[1]!),
    );

    const triggerSql = row('trigger', 'tasks_status_transition');
    const wm = /\bWHEN\b([\s\S]*)\bBEGIN\b/i.exec(triggerSql);
    if (!wm) throw new Error(`no WHEN … BEGIN in the trigger: ${triggerSql}`);
    const { pairs, clause } = transitionList(wm[1]!, 'instr');
    return { statuses, finals, named, triggerPairs: pairs, triggerClause: clause, triggerSql };
  } finally {
    db.close();
  }
}

// ── PostgreSQL ──────────────────────────────────────────────────────────────────────────────────

/** The "from>to" pairs `check_task_transition()` allows: its `CASE OLD.status WHEN … THEN … ELSE false END`. */
function functionPairs(body: string): { pairs: string[]; arms: string[] } {
  const text = shape(body);
  const m = /if not case old\.status (.*) else false end then raise exception/.exec(text);
  if (!m)
    throw new Error(
      `check_task_transition() is not IF NOT (CASE OLD.status … ELSE false END) THEN RAISE: ${body}`,
    );
  const arms = m[1]!.split(/(?=\bwhen ')/).filter((a) => a.trim() !== '');
  const pairs: string[] = [];
  const from: string[] = [];
  for (const arm of arms) {
    const a = /^when '([a-z_]+)' then (false|new\.status in '[a-z_]+'(?:, '[a-z_]+')*)\s*$/.exec(arm.trim());
    if (!a) throw new Error(`unexpected CASE arm: "${arm}"`);
    from.push(a[1]!);
    if (a[2] !== 'false') for (const to of literals(a[2]!)) pairs.push(`${a[1]}>${to}`);
  }
  return { pairs, arms: from };
}

async function readPostgresCatalog(url: string, schema: string) {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const one = async (what: string, sql: string, params: unknown[]): Promise<string> => {
      const r = await client.query<{ def: string }>(sql, params);
      if (r.rows.length !== 1) throw new Error(`expected one ${what}, found ${r.rows.length}`);
      return r.rows[0]!.def;
    };
    const constraint = (name: string) =>
      one(
        `constraint ${name}`,
        `SELECT pg_get_constraintdef(k.oid) AS def FROM pg_constraint k
           JOIN pg_class r ON r.oid = k.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
          WHERE n.nspname = $1 AND r.relname = 'tasks' AND k.conname = $2 AND k.contype = 'c'`,
        [schema, name],
      );
    const statusCheck = await constraint('tasks_status_valid');
    const sm = /^check status = any array\[(.*)\]$/.exec(shape(statusCheck));
    if (!sm) throw new Error(`unexpected tasks_status_valid: ${statusCheck}`);
    const finishedCheck = await constraint('tasks_finished_iff_final');
    const fm = /^check status = any array\[(.*)\] = finished_at is not null$/.exec(shape(finishedCheck));
    if (!fm) throw new Error(`unexpected tasks_finished_iff_final: ${finishedCheck}`);
    const allChecks = await client.query<{ def: string }>(
      `SELECT pg_get_constraintdef(k.oid) AS def FROM pg_constraint k
         JOIN pg_class r ON r.oid = k.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
        WHERE n.nspname = $1 AND r.relname = 'tasks' AND k.contype = 'c'`,
      [schema],
    );
    const named = allChecks.rows
      .filter((r) => /\bstatus\b/.test(r.def))
      .flatMap((r) => literals(r.def.replace(/::text/g, '')));

    const triggerDef = await one(
      'trigger tasks_status_transition',
      `SELECT pg_get_triggerdef(t.oid) AS def FROM pg_trigger t
         JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace
        WHERE n.nspname = $1 AND r.relname = 'tasks' AND t.tgname = 'tasks_status_transition'`,
      [schema],
    );
    const wm = /\bWHEN\b([\s\S]*)\bEXECUTE\s+(?:FUNCTION|PROCEDURE)\s+([\w."]+)\(\)\s*$/i.exec(triggerDef);
    if (!wm) throw new Error(`no WHEN … EXECUTE FUNCTION in the trigger: ${triggerDef}`);
    const { pairs, clause } = transitionList(wm[1]!, 'strpos');
    const body = await one(
      'function check_task_transition()',
      `SELECT p.prosrc AS def FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = $1 AND p.proname = 'check_task_transition'`,
      [schema],
    );
    return {
      statuses: literals(sm[1]!),
      finals: literals(fm[1]!),
      named,
      triggerPairs: pairs,
      triggerClause: clause,
      triggerDef,
      triggerFunction: wm[2]!,
      function: functionPairs(body),
    };
  } finally {
    await client.end();
  }
}

// ── the tests ───────────────────────────────────────────────────────────────────────────────────

const expectedPairs = pairsOf(TRANSITIONS);

describe('the schemas say what core/status.ts says', () => {
  describe('sqlite', () => {
    let dir = '';
    let catalog: ReturnType<typeof readSqliteCatalog>;
    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cns-state-machine-'));
      const file = path.join(dir, 'cns.db');
      const store = await openSqliteStore(file, { policy: DEFAULT_POLICY, clock: new ManualClock() });
      try {
        catalog = readSqliteCatalog(file);
      } finally {
        await store.close();
      }
    });
    afterAll(() => {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('the status CHECK allows exactly TASK_STATUSES', () => {
      expect(difference(catalog.statuses, TASK_STATUSES)).toEqual(SAME);
    });

    it('the finished-time CHECK names exactly FINAL_STATUSES, and every status a CHECK names is a status', () => {
      expect(difference(catalog.finals, FINAL_STATUSES)).toEqual(SAME);
      expect(catalog.named.filter((s) => !isTaskStatus(s))).toEqual([]);
    });

    it('the tasks_status_transition trigger lets through exactly TRANSITIONS and refuses everything else', () => {
      expect(difference(catalog.triggerPairs, expectedPairs)).toEqual(SAME);
      // What the trigger does with the list: fires on a status change not in it, and aborts.
      expect(shape(catalog.triggerClause)).toBe(
        "new.status is not old.status and instr <list>, '|' || old.status || '>' || new.status || '|' = 0",
      );
      const sql = catalog.triggerSql.replace(/\s+/g, ' ');
      expect(sql).toMatch(/^CREATE TRIGGER tasks_status_transition BEFORE UPDATE OF status ON tasks WHEN /);
      expect(sql).toMatch(/BEGIN SELECT RAISE\(ABORT, '[^']+'\); END$/);
    });
  });

  describe('postgres', () => {
    let schema: FreshPostgresSchema | null = null;
    let catalog: Awaited<ReturnType<typeof readPostgresCatalog>>;
    beforeAll(async () => {
      schema = await freshPostgresSchema();
      const store = await openPostgresStore(schema.url, {
        policy: DEFAULT_POLICY,
        clock: new ManualClock(),
        schema: schema.schema,
      });
      try {
        catalog = await readPostgresCatalog(schema.url, schema.schema);
      } finally {
        await store.close();
      }
    });
    afterAll(async () => {
      await schema?.drop();
    });

    it('tasks_status_valid allows exactly TASK_STATUSES', () => {
      expect(difference(catalog.statuses, TASK_STATUSES)).toEqual(SAME);
    });

    it('tasks_finished_iff_final names exactly FINAL_STATUSES, and every status a CHECK names is a status', () => {
      expect(difference(catalog.finals, FINAL_STATUSES)).toEqual(SAME);
      expect(catalog.named.length).toBeGreaterThan(0);
      expect(catalog.named.filter((s) => !isTaskStatus(s))).toEqual([]);
    });

    it("the trigger's WHEN clause lets through exactly TRANSITIONS and calls check_task_transition() otherwise", () => {
      expect(difference(catalog.triggerPairs, expectedPairs)).toEqual(SAME);
      expect(shape(catalog.triggerClause)).toBe(
        "old.status is distinct from new.status and strpos <list>, '|' || old.status || '>' || new.status || '|' = 0",
      );
      expect(catalog.triggerDef).toMatch(
        /^CREATE TRIGGER tasks_status_transition BEFORE UPDATE OF status ON /,
      );
      expect(catalog.triggerDef).toMatch(/ FOR EACH ROW WHEN /);
      expect(catalog.triggerFunction).toMatch(/(^|\.)check_task_transition$/);
    });

    it('check_task_transition() allows exactly TRANSITIONS (one CASE arm per status, ELSE false)', () => {
      expect(difference(catalog.function.pairs, expectedPairs)).toEqual(SAME);
      expect(difference(catalog.function.arms, TASK_STATUSES)).toEqual(SAME);
    });
  });

  it('the comparison is not vacuous: a status or a transition added to status.ts alone would be reported', () => {
    const withPaused = [...TASK_STATUSES, 'paused'];
    expect(difference([...TASK_STATUSES], withPaused)).toEqual({
      missing: ['paused'],
      extra: [],
      duplicated: [],
    });
    const morePairs = [...expectedPairs, 'completed>pending'];
    expect(difference(expectedPairs, morePairs).missing).toEqual(['completed>pending']);
    expect(difference(morePairs, expectedPairs).extra).toEqual(['completed>pending']);
    // The parsers read real lists (not an empty one that would match an empty table).
    expect(expectedPairs.length).toBeGreaterThan(10);
    expect(transitionList("x AND instr('|a>b' || '|c>d|', '|' || o || '|') = 0", 'instr').pairs).toEqual([
      'a>b',
      'c>d',
    ]);
    expect(() => transitionList("instr('|a>b|' || other, 'x') = 0", 'instr')).toThrow(/only string literals/);
    expect(orChain("status = 'a' OR status = 'b'")).toEqual(['a', 'b']);
    expect(() => orChain("status = 'a' OR status LIKE 'b%'")).toThrow(/not a "status = '…'" term/);
    expect(
      functionPairs(
        "BEGIN IF NOT (CASE OLD.status WHEN 'a' THEN NEW.status IN ('b', 'c') WHEN 'b' THEN false ELSE false END) THEN RAISE EXCEPTION 'x'; END IF; RETURN NEW; END",
      ),
    ).toEqual({ pairs: ['a>b', 'a>c'], arms: ['a', 'b'] });
  });
});

describe('core/status.ts agrees with itself', () => {
  const moves = Object.entries(MOVES) as [TaskOperation, readonly (readonly [TaskStatus, TaskStatus])[]][];

  it('every move of MOVES is between statuses, and every move that changes the status is in TRANSITIONS', () => {
    for (const [op, list] of moves) {
      expect(list.length, `${op} has no moves`).toBeGreaterThan(0);
      for (const [from, to] of list) {
        expect(isTaskStatus(from) && isTaskStatus(to), `${op}: ${from} → ${to}`).toBe(true);
        if (from !== to) expect(canTransition(from, to), `${op}: ${from} → ${to}`).toBe(true);
      }
    }
  });

  it('every transition of TRANSITIONS is a move of some operation, and none stays in place', () => {
    const fromMoves = moves.flatMap(([, list]) =>
      list.filter(([f, t]) => f !== t).map(([f, t]) => `${f}>${t}`),
    );
    expect(difference([...new Set(fromMoves)], expectedPairs)).toEqual(SAME);
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...TASK_STATUSES].sort());
    for (const s of TASK_STATUSES) expect(TRANSITIONS[s]).not.toContain(s);
  });

  it('the table, spelled out', () => {
    expect(TRANSITIONS).toEqual({
      blocked: ['pending', 'cancelled'],
      pending: ['assigned', 'in_progress', 'cancelled'],
      assigned: ['in_progress', 'cancelled'],
      in_progress: ['pending', 'waiting_input', 'awaiting_review', 'completed', 'failed', 'cancelled'],
      waiting_input: ['pending', 'cancelled'],
      awaiting_review: ['pending', 'completed', 'failed', 'cancelled'],
      completed: [],
      failed: ['blocked', 'pending'],
      cancelled: ['blocked', 'pending'],
    });
  });

  it('final statuses leave only by retry; open ones are the rest and can all be cancelled', () => {
    expect([...OPEN_STATUSES, ...FINAL_STATUSES].sort()).toEqual([...TASK_STATUSES].sort());
    for (const s of TASK_STATUSES) expect(isFinal(s)).toBe(FINAL_STATUSES.includes(s));
    for (const [op, list] of moves) {
      for (const [from] of list) if (isFinal(from)) expect(op, `${op} moves a ${from} task`).toBe('retry');
    }
    for (const s of OPEN_STATUSES) expect(canTransition(s, 'cancelled'), s).toBe(true);
  });

  it('every status is reachable from creation (blocked or pending), and every open status can end', () => {
    const reach = (start: TaskStatus[]) => {
      const seen = new Set<TaskStatus>(start);
      for (let grew = true; grew;) {
        grew = false;
        for (const s of [...seen])
          for (const t of TRANSITIONS[s])
            if (!seen.has(t)) {
              seen.add(t);
              grew = true;
            }
      }
      return seen;
    };
    expect([...reach(['blocked', 'pending'])].sort()).toEqual([...TASK_STATUSES].sort());
    for (const s of OPEN_STATUSES)
      expect(
        FINAL_STATUSES.some((f) => reach([s]).has(f)),
        s,
      ).toBe(true);
  });

  it('allowedActions(status) lists exactly the actions whose operation has a move from that status', () => {
    const actions: TaskAction[] = ['assign', 'answer', 'approve', 'request_changes', 'cancel', 'retry'];
    for (const s of TASK_STATUSES) {
      const expected = actions.filter((a) => MOVES[a].some(([from]) => from === s));
      expect(allowedActions(s), s).toEqual(expected);
    }
    // And as a person sees it.
    expect(Object.fromEntries(TASK_STATUSES.map((s) => [s, allowedActions(s)]))).toEqual({
      blocked: ['cancel'],
      pending: ['assign', 'cancel'],
      assigned: ['assign', 'cancel'],
      in_progress: ['cancel'],
      waiting_input: ['answer', 'cancel'],
      awaiting_review: ['approve', 'request_changes', 'cancel'],
      completed: [],
      failed: ['retry'],
      cancelled: ['retry'],
    });
  });
});

describe('core/derive.ts handles every status', () => {
  it('a workflow with a task in any non-final status is not finished (whatever else it has)', () => {
    for (const s of OPEN_STATUSES) {
      for (const others of [{}, { completed: 2 }, { failed: 1, cancelled: 1, completed: 1 }]) {
        const status = deriveWorkflowStatus({ ...others, [s]: 1 });
        expect(['running', 'awaiting_review'], `one ${s} task with ${JSON.stringify(others)}`).toContain(
          status,
        );
      }
    }
    const all = Object.fromEntries(TASK_STATUSES.map((s) => [s, 1]));
    expect(deriveWorkflowStatus(all)).toBe('running');
  });

  it('a workflow whose tasks are all final takes its status from them', () => {
    expect(deriveWorkflowStatus({ completed: 3 })).toBe('completed');
    expect(deriveWorkflowStatus({ completed: 2, failed: 1 })).toBe('failed');
    expect(deriveWorkflowStatus({ completed: 2, cancelled: 1 })).toBe('cancelled');
    expect(deriveWorkflowStatus({ awaiting_review: 1, completed: 2 })).toBe('awaiting_review');
    for (const s of FINAL_STATUSES) expect(deriveWorkflowStatus({ [s]: 1 })).toBe(s);
  });
});
