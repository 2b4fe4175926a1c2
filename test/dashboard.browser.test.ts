/**
 * The dashboard in a real browser: headless Chromium (Debian's `chromium`) driven by playwright-core,
 * against the real `cns serve` server started in-process on a temporary SQLite file.
 *
 * Without Chromium these tests are skipped with a note; under CI=true a missing Chromium fails.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Actor } from '../src/coordinator/api-types.js';
import type { Coordinator } from '../src/coordinator/coordinator.js';
import { openCoordinator } from '../src/coordinator/open-coordinator.js';
import { ManualClock } from '../src/core/clock.js';
import { TASK_STATUSES } from '../src/core/status.js';
import type { Agent, Question, Task } from '../src/core/types.js';
import { startServer } from '../src/http/http-server.js';
import { createToken } from '../src/http/tokens.js';

const CHROMIUM = process.env.CNS_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const IN_CI = process.env.CI === 'true';
/** The browser's globals as the page functions below use them (the tests compile without the DOM lib). */
interface PageWindow {
  location: { hash: string };
  document: {
    cookie: string;
    querySelector(selector: string): { getAttribute(name: string): string | null } | null;
  };
  __sameDocument?: boolean;
  __pwned?: number;
}

/**
 * How long a step waits for the page to reach the state it asserts: the same as the page's own
 * auto-waiting (`setDefaultTimeout` below). vitest's `expect.poll` gives up after 1 s by default,
 * too soon for a loaded machine.
 */
const WAIT = 10_000;
const POLL = { timeout: WAIT };
/** Elements through which text could run script; none may appear from what agents wrote. */
const ACTIVE = 'img, iframe, object, embed, script:not([src]), [onerror], [onload]';
/** The graph as drawn: each node's box and points sampled along each edge (SVG user units). */
interface Geometry {
  width: number;
  height: number;
  nodes: { id: number; x: number; y: number; w: number; h: number }[];
  edges: { from: number; to: number; points: [number, number][] }[];
}
/** Read in the page (a string: the tests compile without the DOM lib); edges as their path data. */
const READ_GEOMETRY = `(() => {
  const svg = document.querySelector('.graph');
  const nodes = [...svg.querySelectorAll('.node')].map((g) => {
    const m = /translate\\(([-\\d.]+)[ ,]+([-\\d.]+)\\)/.exec(g.getAttribute('transform'));
    const box = g.querySelector('.node-box');
    return { id: Number(g.dataset.task), x: Number(m[1]), y: Number(m[2]),
      w: Number(box.getAttribute('width')), h: Number(box.getAttribute('height')) };
  });
  const edges = [...svg.querySelectorAll('.edge')].map((p) => ({
    from: Number(p.dataset.from), to: Number(p.dataset.to), d: p.getAttribute('d') }));
  return { width: Number(svg.getAttribute('width')), height: Number(svg.getAttribute('height')), nodes, edges };
})()`;

/**
 * Points every 2 units or so along an SVG path made of M, L and Q commands (what the dashboard
 * draws; any other command fails the test).
 */
function samplePath(d: string): [number, number][] {
  const points: [number, number][] = [];
  let at: [number, number] = [0, 0];
  for (const [, cmd, args] of d.matchAll(/([A-Za-z])([^A-Za-z]*)/g)) {
    const n = args!
      .trim()
      .split(/[\s,]+/)
      .filter(Boolean)
      .map(Number);
    if (cmd === 'M') {
      at = [n[0]!, n[1]!];
      points.push(at);
    } else if (cmd === 'L') {
      const to: [number, number] = [n[0]!, n[1]!];
      const steps = Math.max(1, Math.ceil(Math.hypot(to[0] - at[0], to[1] - at[1]) / 2));
      for (let i = 1; i <= steps; i++)
        points.push([at[0] + ((to[0] - at[0]) * i) / steps, at[1] + ((to[1] - at[1]) * i) / steps]);
      at = to;
    } else if (cmd === 'Q') {
      const [cx, cy, x, y] = n as [number, number, number, number];
      // As densely as the lines (about 2 units apart), from the length of the control polygon.
      const steps = Math.max(
        1,
        Math.ceil((Math.hypot(cx - at[0], cy - at[1]) + Math.hypot(x - cx, y - cy)) / 2),
      );
      for (let i = 1; i <= steps; i++) {
        const t = i / steps;
        const u = 1 - t;
        points.push([u * u * at[0] + 2 * u * t * cx + t * t * x, u * u * at[1] + 2 * u * t * cy + t * t * y]);
      }
      at = [x, y];
    } else {
      throw new Error(`unexpected path command ${cmd} in ${d}`);
    }
  }
  return points;
}

async function readGeometry(p: Page): Promise<Geometry> {
  const raw = (await p.evaluate(READ_GEOMETRY)) as Omit<Geometry, 'edges'> & {
    edges: { from: number; to: number; d: string }[];
  };
  return { ...raw, edges: raw.edges.map((e) => ({ from: e.from, to: e.to, points: samplePath(e.d) })) };
}

/**
 * What is wrong with the drawing, in words (empty when nothing): an edge that passes through a box
 * other than at its own two ends, an edge that does not start at its dependency's right side or end
 * at its dependent's left side, two edges that run together (share a stretch of path: more than a
 * crossing point).
 */
function graphFaults(g: Geometry): string[] {
  const faults: string[] = [];
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const inside = (n: Geometry['nodes'][number], [x, y]: [number, number], margin: number) =>
    x > n.x - margin && x < n.x + n.w + margin && y > n.y - margin && y < n.y + n.h + margin;
  for (const e of g.edges) {
    const from = byId.get(e.from)!;
    const to = byId.get(e.to)!;
    const first = e.points[0]!;
    const last = e.points[e.points.length - 1]!;
    if (Math.abs(first[0] - (from.x + from.w)) > 1 || first[1] <= from.y || first[1] >= from.y + from.h)
      faults.push(`#${e.from}→#${e.to} does not leave #${e.from}'s right side`);
    if (Math.abs(last[0] - to.x) > 3 || last[1] <= to.y || last[1] >= to.y + to.h)
      faults.push(`#${e.from}→#${e.to} does not reach #${e.to}'s left side`);
    for (const n of g.nodes) {
      // Its own two boxes: only touched at the ends (the first and last 3 units).
      const own = n.id === e.from || n.id === e.to;
      const hit = e.points.find(
        (p, i) => (!own || (i > 1 && i < e.points.length - 2)) && inside(n, p, own ? -0.5 : 1),
      );
      if (hit) faults.push(`#${e.from}→#${e.to} passes through #${n.id} at ${hit.map(Math.round).join(',')}`);
    }
  }
  // Shared stretches: samples of one edge within 1.1 units of another's path, more than a crossing gives.
  const grid = new Map<string, { edge: number; x: number; y: number }[]>();
  g.edges.forEach((e, edge) => {
    for (const [x, y] of e.points) {
      const k = `${Math.floor(x / 2)},${Math.floor(y / 2)}`;
      (grid.get(k) ?? grid.set(k, []).get(k)!).push({ edge, x, y });
    }
  });
  g.edges.forEach((e, i) => {
    const close = new Map<number, number>();
    for (const [x, y] of e.points) {
      const near = new Set<number>();
      const gx = Math.floor(x / 2);
      const gy = Math.floor(y / 2);
      for (let dx = -1; dx <= 1; dx++)
        for (let dy = -1; dy <= 1; dy++)
          for (const q of grid.get(`${gx + dx},${gy + dy}`) ?? [])
            if (q.edge > i && Math.hypot(q.x - x, q.y - y) < 1.1) near.add(q.edge);
      for (const j of near) close.set(j, (close.get(j) ?? 0) + 1);
    }
    for (const [j, n] of close) {
      const other = g.edges[j]!;
      if (n >= 4) faults.push(`#${e.from}→#${e.to} runs along #${other.from}→#${other.to}`);
    }
  });
  return faults;
}

/** Who queues and steers the test's work (not an agent). */
const TEST: Actor = { name: 'test', agentId: null, role: 'system' };

const HOW = `install it with "apt-get install -y chromium" (or set CNS_CHROMIUM=/path/to/chromium), then run "npx vitest run test/dashboard.browser.test.ts"`;

if (!HAVE_CHROMIUM && !IN_CI) {
  console.warn(`dashboard browser tests skipped: no Chromium at ${CHROMIUM}; ${HOW}`);
}

if (!HAVE_CHROMIUM && IN_CI) {
  describe('dashboard browser tests under CI', () => {
    it('need Chromium (a missing browser is a failure under CI=true, never a skip)', () => {
      throw new Error(`no Chromium at ${CHROMIUM}; ${HOW}`);
    });
  });
}

describe.runIf(HAVE_CHROMIUM)('dashboard in headless Chromium', () => {
  let dir: string;
  let coordinator: Coordinator;
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;
  let context: BrowserContext | undefined;
  let page: Page;
  let token: string;
  let pageErrors: string[];

  /**
   * A call to the HTTP API (what another program would do), with the supervisor token unless
   * another is given (an agent's, for the agent's own calls).
   */
  async function api<T>(method: string, path: string, body?: unknown, bearer = token): Promise<T> {
    const res = await fetch(new URL(path, server.url), {
      method,
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = (await res.json()) as T;
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(data)}`);
    return data;
  }

  async function register(name: string, type: string, capabilities: string[] = []): Promise<Agent> {
    return coordinator.registerAgent({ name, type, capabilities, host: 'test-host', pid: 1234 });
  }

  /** An agent claims the task (assigned to it first, so it gets exactly this one) and completes it. */
  async function completeAs(agent: Agent, taskId: number, result: string): Promise<Task> {
    await coordinator.assign(taskId, agent.id, TEST);
    const out = await coordinator.claimNext(agent);
    if (!out.claimed) throw new Error(out.reason);
    return coordinator.complete(taskId, out.claimed.leaseToken, { result });
  }

  /**
   * An agent with its own token, working through the HTTP API as an agent program does: it
   * registers, claims `taskId` (the only task of its type) and asks about it.
   */
  async function askAs(
    agentToken: string,
    taskId: number,
    question: { text: string; choices?: string[]; context?: unknown; for?: string },
  ): Promise<Question> {
    await api('POST', '/api/agent/register', {}, agentToken);
    const { claimed } = await api<{ claimed: { task: Task; leaseToken: string } | null }>(
      'POST',
      '/api/agent/claim',
      {},
      agentToken,
    );
    expect(claimed?.task.id).toBe(taskId);
    const asked = await api<{ task: Task; question: Question }>(
      'POST',
      `/api/tasks/${taskId}/ask`,
      { leaseToken: claimed!.leaseToken, ...question },
      agentToken,
    );
    expect(asked.task.status).toBe('waiting_input');
    return asked.question;
  }

  async function openQuestions(): Promise<number> {
    return (await api<{ openQuestions: number }>('GET', '/api/status?stuck=0')).openQuestions;
  }

  async function signIn(p: Page, secret = token): Promise<void> {
    await p.goto(server.url);
    await p.locator('#token').fill(secret);
    await p.locator('#signin button[type=submit]').click();
    await p.locator('.page-fleet').waitFor();
  }

  /** Opens a page by its address and waits until that page, not the previous one, is on screen. */
  async function go(hash: string): Promise<void> {
    await page.evaluate((h) => ((globalThis as unknown as PageWindow).location.hash = h), hash);
    await page.waitForFunction(
      () => {
        const w = globalThis as unknown as PageWindow;
        return w.document.querySelector('#main > .page')?.getAttribute('data-hash') === w.location.hash;
      },
      undefined,
      { timeout: WAIT },
    );
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cns-dashboard-'));
    const db = join(dir, 'cns.db');
    // A second coordinator on the same file: work queued through it happens "elsewhere", as when
    // an agent's own cns process writes to the database the server reads.
    coordinator = await openCoordinator({ db, reaper: false });
    server = await startServer({ db, port: 0, host: '127.0.0.1' });
    token = await createToken(coordinator, { role: 'supervisor', name: 'reviewer' });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await coordinator?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh browser context (no cookies); page errors and Content-Security-Policy violations are collected. */
  async function openPage(options: { bypassCSP?: boolean } = {}): Promise<void> {
    await context?.close();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
    page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text())) pageErrors.push(msg.text());
    });
  }

  beforeEach(async () => {
    pageErrors = [];
    await openPage();
  });

  afterEach(async () => {
    await context?.close();
    context = undefined;
    expect(pageErrors).toEqual([]);
  });

  it('refuses a wrong token, then signs in through the form and out again', async () => {
    await page.goto(server.url);
    await page.locator('#token').fill('cns_not-a-real-token');
    await page.locator('#signin button[type=submit]').click();
    await expect.poll(() => page.locator('.signin-error').textContent(), POLL).toMatch(/not valid/);
    await page.locator('#token').fill(token);
    await page.locator('#signin button[type=submit]').click();
    await page.locator('.page-fleet').waitFor();
    expect(await page.locator('#who').textContent()).toContain('reviewer');
    // The token is in an HttpOnly cookie, out of reach of the page's scripts.
    expect(await page.evaluate(() => (globalThis as unknown as PageWindow).document.cookie)).not.toContain(
      'cns_session',
    );

    // A reload keeps the session; signing out ends it.
    await page.reload();
    await page.locator('.page-fleet').waitFor();
    await page.locator('#signout').click();
    await page.locator('#signin').waitFor();
    await page.reload();
    await page.locator('#signin').waitFor();
  });

  it('shows the agents and the tasks created through the API', async () => {
    await register('fe-alpha', 'frontend', ['css', 'react']);
    await register('be-beta', 'backend', ['node']);
    const { task } = await api<{ task: Task }>('POST', '/api/tasks', {
      type: 'frontend',
      title: 'Build the settings page',
      spec: 'Three tabs: profile, tokens, danger zone.',
    });
    await api('POST', '/api/tasks', { type: 'backend', title: 'Fix the login redirect' });

    await signIn(page);
    const alpha = page.locator('tr.agent', { hasText: 'fe-alpha' });
    await alpha.waitFor();
    expect(await alpha.textContent()).toContain('frontend');
    expect(await alpha.textContent()).toContain('react');
    expect(await alpha.locator('.badge').textContent()).toBe('idle');
    await page.locator('tr.agent', { hasText: 'be-beta' }).waitFor();

    await go('#/tasks');
    const row = page.locator(`tr.task-row[data-task="${task.id}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('Build the settings page');
    expect(await row.getAttribute('data-status')).toBe('pending');

    // Status filter and search.
    await page.locator('.chip[data-status="completed"]').click();
    await expect.poll(() => row.count(), POLL).toBe(0);
    await go('#/tasks');
    await page.locator('tr.task-row').first().waitFor();
    expect(await page.locator('tr.task-row').count()).toBeGreaterThan(1);
    await page.locator('input.search').fill('settings page');
    await expect.poll(() => page.url(), POLL).toContain('search=settings');
    await expect.poll(() => page.locator('tr.task-row').count(), POLL).toBe(1);

    await row.locator('a.task-title').click();
    await page.locator('#task-title').waitFor();
    expect(await page.locator('#task-title').textContent()).toBe('Build the settings page');
    expect(await page.locator('.spec').textContent()).toBe('Three tabs: profile, tokens, danger zone.');
    // Not final: it says why it is not moving.
    expect(await page.locator('#explanation').textContent()).toMatch(/agent/);
  });

  it('shows a task queued elsewhere without a reload', async () => {
    await signIn(page);
    await go('#/tasks');
    await page.locator('.page-tasks').waitFor();
    await page.evaluate(() => ((globalThis as unknown as PageWindow).__sameDocument = true));

    const { task } = await coordinator.createTask({ type: 'backend', title: 'Queued from elsewhere' }, TEST);
    await page.locator(`tr.task-row[data-task="${task.id}"]`).waitFor();

    // And an agent taking it shows up live too.
    const agent = await register('be-live', 'backend');
    await coordinator.assign(task.id, agent.id, TEST);
    const claimed = await coordinator.claimNext(agent);
    expect(claimed.claimed?.task.id).toBe(task.id);
    await page.locator(`tr.task-row[data-task="${task.id}"][data-status="in_progress"]`).waitFor();

    await go('#/events');
    await page.locator(`#event-feed .event[data-kind="task.claimed"]`).first().waitFor();
    await coordinator.progress(task.id, claimed.claimed!.leaseToken, { note: 'half way', percent: 50 });
    await page.locator('#event-feed .event[data-kind="task.progress"]', { hasText: 'half way' }).waitFor();

    expect(await page.evaluate(() => (globalThis as unknown as PageWindow).__sameDocument)).toBe(true);
  });

  it('lets a reviewer approve a task from its page, and request changes with feedback', async () => {
    const author = await register('be-author', 'backend');
    const approveMe = await coordinator.createTask(
      { type: 'backend', title: 'Add rate limiting', review: true },
      TEST,
    );
    const changeMe = await coordinator.createTask(
      { type: 'backend', title: 'Add request logging', review: true },
      TEST,
    );
    await completeAs(author, approveMe.task.id, 'Token bucket per client, 100 req/min.');
    await completeAs(author, changeMe.task.id, 'Logs every request body.');

    await signIn(page);
    await go(`#/tasks/${approveMe.task.id}`);
    await page.locator('#approve').waitFor();
    expect(await page.locator('.task-head .badge').textContent()).toBe('awaiting review');
    expect(await page.locator('.result-text').textContent()).toBe('Token bucket per client, 100 req/min.');
    await page.locator('#approve').click();
    await expect.poll(() => page.locator('.task-head .badge').textContent(), POLL).toBe('completed');
    expect(await page.locator('#approve').count()).toBe(0);
    expect((await coordinator.getTask(approveMe.task.id)).status).toBe('completed');

    await go(`#/tasks/${changeMe.task.id}`);
    await page.locator('#request-changes').waitFor();
    // Feedback is required, and survives a live refresh while it is being typed.
    // The message belongs to the rendered page: a live re-render (the approval's events may still be
    // arriving) replaces it with an empty one. So wait for the message itself, and click again if a
    // re-render took it away (without feedback the click sends nothing).
    const message = page.locator('.action-msg');
    await expect
      .poll(async () => {
        if (!(await message.textContent())) await page.locator('#request-changes').click();
        return message.textContent();
      }, POLL)
      .toMatch(/what to change/);
    expect((await coordinator.getTask(changeMe.task.id)).status).toBe('awaiting_review');
    await page.locator('#feedback').fill('Do not log bodies: they hold passwords.');
    const head = page.locator('.task-head');
    await head.evaluate((el: unknown) => ((el as { stale?: boolean }).stale = true));
    await coordinator.createTask({ type: 'docs', title: 'An unrelated event' }, TEST);
    // The page re-renders (a new heading element replaces the marked one) ...
    await expect
      .poll(() => head.evaluate((el: unknown) => (el as { stale?: boolean }).stale === true), POLL)
      .toBe(false);
    // ... and the half-typed feedback is still there.
    expect(await page.locator('#feedback').inputValue()).toBe('Do not log bodies: they hold passwords.');
    await page.locator('#request-changes').click();
    await expect.poll(() => page.locator('.task-head .badge').textContent(), POLL).toBe('pending');
    await page.locator('.attempt .feedback', { hasText: 'Do not log bodies' }).waitFor();
    const after = await coordinator.getTask(changeMe.task.id);
    expect(after.status).toBe('pending');
    expect(after.reviewRounds).toBe(1);
  });

  it('cancels and retries a task from its page', async () => {
    const { task } = await coordinator.createTask({ type: 'nobody', title: 'Cancel me' }, TEST);
    await signIn(page);
    await go(`#/tasks/${task.id}`);
    await page.locator('#cancel').click();
    await page.locator('#cancel-reason').fill('not needed');
    await page.locator('#confirm-cancel').click();
    await expect.poll(() => page.locator('.task-head .badge').textContent(), POLL).toBe('cancelled');
    await page.locator('.tl-item[data-kind="task.cancelled"]', { hasText: 'not needed' }).waitFor();
    await page.locator('#retry').click();
    await expect.poll(() => page.locator('.task-head .badge').textContent(), POLL).toBe('pending');
  });

  it('offers the actions the server allows: assign a pending task; none on a completed one', async () => {
    const agent = await register('qa-assignee', 'qa');
    const { task } = await coordinator.createTask({ type: 'qa', title: 'Assign me' }, TEST);
    await signIn(page);
    await go(`#/tasks/${task.id}`);
    await page.locator('#assign').click();
    await page.locator('#assign-agent').selectOption('qa-assignee');
    await page.locator('#confirm-assign').click();
    await expect.poll(() => page.locator('.task-head .badge').textContent(), POLL).toBe('assigned');
    expect((await coordinator.getTask(task.id)).assignedTo).toBe(agent.id);
    // Still assignable (to another agent) and cancellable; not retryable.
    await page.locator('#cancel').waitFor();
    expect(await page.locator('#assign').count()).toBe(1);
    expect(await page.locator('#retry').count()).toBe(0);

    await completeAs(agent, task.id, 'checked');
    await expect.poll(() => page.locator('.task-head .badge').textContent(), POLL).toBe('completed');
    expect(await page.locator('#assign, #cancel, #retry, #approve').count()).toBe(0);
  });

  it('draws a workflow as a dependency graph; a node opens its task', async () => {
    const agent = await register('be-graph', 'backend');
    const wf = await coordinator.createWorkflow(
      {
        name: 'Graph demo',
        tasks: [
          { ref: 'a', type: 'backend', title: 'First step' },
          { ref: 'b', type: 'backend', title: 'Second step', dependsOn: ['a'] },
          { ref: 'c', type: 'backend', title: 'Third step', dependsOn: ['a'] },
          { ref: 'd', type: 'backend', title: 'Last step', dependsOn: ['b', 'c'] },
        ],
      },
      TEST,
    );
    const id = (ref: string) => wf.tasks.find((t) => t.ref === ref)!.id;
    await completeAs(agent, id('a'), 'done');

    await signIn(page);
    await go(`#/workflows/${wf.workflow!.id}`);
    await page.locator('.graph .node').first().waitFor();
    expect(await page.locator('.graph .node').count()).toBe(4);
    expect(await page.locator('.graph .edge').count()).toBe(4);
    expect(await page.locator(`.graph .node[data-task="${id('a')}"]`).getAttribute('data-status')).toBe(
      'completed',
    );
    expect(await page.locator(`.graph .node[data-task="${id('b')}"]`).getAttribute('data-status')).toBe(
      'pending',
    );
    expect(await page.locator(`.graph .node[data-task="${id('d')}"]`).getAttribute('data-status')).toBe(
      'blocked',
    );
    // Layered by depth: a left of b and c, which are left of d.
    const x = async (ref: string) =>
      (await page.locator(`.graph .node[data-task="${id(ref)}"]`).boundingBox())!.x;
    expect(await x('a')).toBeLessThan(await x('b'));
    expect(await x('b')).toBe(await x('c'));
    expect(await x('c')).toBeLessThan(await x('d'));

    await page.locator(`.graph .node[data-task="${id('d')}"]`).click();
    await expect.poll(() => page.locator('#task-title').textContent(), POLL).toBe('Last step');
    expect(page.url()).toContain(`#/tasks/${id('d')}`);
  });

  it('shows a question asked while the inbox is open, live, and answers it with one click on a choice', async () => {
    const agentToken = await createToken(coordinator, {
      role: 'agent',
      name: 'ops-asker',
      type: 'inbox-choice',
    });
    const { task } = await api<{ task: Task }>('POST', '/api/tasks', {
      type: 'inbox-choice',
      title: 'Create the uploads bucket',
    });
    const before = await openQuestions();
    await signIn(page);
    await go('#/questions');
    await page.locator('.page-questions').waitFor();
    await page.evaluate(() => ((globalThis as unknown as PageWindow).__sameDocument = true));
    const badge = page.locator('#inbox-count');
    expect(await badge.textContent()).toBe(String(before));

    // The agent, elsewhere, asks while the page is open.
    const context = { latencyMs: { 'eu-west-1': 18, 'us-east-1': 95 }, users: 'mostly in Europe' };
    const q = await askAs(agentToken, task.id, {
      text: 'Which region should the bucket live in?',
      choices: ['eu-west-1', 'us-east-1'],
      context,
      for: 'ops',
    });

    // It appears without a reload, with everything needed to answer it; the badge counts it.
    const card = page.locator(`#question-list .question[data-question="${q.id}"]`);
    await card.waitFor();
    expect(await card.getAttribute('data-status')).toBe('open');
    expect(await card.locator('.q-text').textContent()).toBe('Which region should the bucket live in?');
    expect(await card.locator('.q-for-name').textContent()).toBe('ops');
    expect(await card.locator('.q-asker').textContent()).toBe('ops-asker');
    expect(await card.locator('.q-task-title').textContent()).toBe('Create the uploads bucket');
    expect(await card.locator('a.tasklink').getAttribute('href')).toBe(`#/tasks/${task.id}`);
    expect(JSON.parse((await card.locator('.q-context pre').textContent()) ?? '')).toEqual(context);
    expect(await card.locator('.q-choice').allTextContents()).toEqual(['eu-west-1', 'us-east-1']);
    await expect.poll(() => badge.textContent(), POLL).toBe(String(before + 1));
    expect(await badge.isVisible()).toBe(true);

    await card.locator('.q-choice[data-choice="us-east-1"]').click();

    // Answered with that choice, by the signed-in supervisor; the task is back in the queue.
    await expect
      .poll(
        async () => (await api<{ question: Question }>('GET', `/api/questions/${q.id}`)).question.status,
        POLL,
      )
      .toBe('answered');
    const { question } = await api<{ question: Question }>('GET', `/api/questions/${q.id}`);
    expect(question).toMatchObject({ answer: 'us-east-1', answeredBy: { name: 'reviewer' } });
    expect((await api<{ task: Task }>('GET', `/api/tasks/${task.id}?view=task`)).task.status).toBe('pending');

    // The page: the question left the open list, and says who answered it and how.
    const done = page.locator(`#answered-list .question[data-question="${q.id}"][data-status="answered"]`);
    await done.waitFor();
    expect(await card.count()).toBe(0);
    expect(await done.locator('.q-answered-by').textContent()).toBe('reviewer');
    expect(await done.locator('.q-answer-text').textContent()).toBe('us-east-1');
    expect(await done.locator('button, textarea').count()).toBe(0);
    await expect.poll(() => badge.textContent(), POLL).toBe(String(before));
    expect(await badge.isVisible()).toBe(before > 0);

    // Answered questions are one filter away.
    await page.locator('#show-all').click();
    await page.locator(`#question-list .question[data-question="${q.id}"][data-status="answered"]`).waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as PageWindow).__sameDocument)).toBe(true);
  });

  it("answers a task's question in free text from the task's page", async () => {
    const agentToken = await createToken(coordinator, {
      role: 'agent',
      name: 'docs-asker',
      type: 'inbox-text',
    });
    const { task } = await api<{ task: Task }>('POST', '/api/tasks', {
      type: 'inbox-text',
      title: 'Write the 3.2 release notes',
    });
    const q = await askAs(agentToken, task.id, {
      text: 'Should the notes give a removal date for /v1/export?',
    });

    await signIn(page);
    await go(`#/tasks/${task.id}`);
    await expect.poll(() => page.locator('.task-head .badge').textContent(), POLL).toBe('waiting input');
    expect(await page.locator('#explanation').textContent()).toMatch(
      /waiting for an answer from supervisor .*docs-asker asked question #\d+/,
    );
    const card = page.locator(`#questions .question[data-question="${q.id}"]`);
    expect(await card.locator('.q-text').textContent()).toBe(
      'Should the notes give a removal date for /v1/export?',
    );
    expect(await card.locator('.q-choice').count()).toBe(0);
    await card.locator('textarea').fill('No date yet: say it is deprecated, and that a date follows in 3.3.');
    await card.locator('.q-submit').click();

    await expect.poll(() => page.locator('.task-head .badge').textContent(), POLL).toBe('pending');
    const { question } = await api<{ question: Question }>('GET', `/api/questions/${q.id}`);
    expect(question).toMatchObject({
      status: 'answered',
      answer: 'No date yet: say it is deprecated, and that a date follows in 3.3.',
      answeredBy: { name: 'reviewer' },
    });
    expect((await api<{ task: Task }>('GET', `/api/tasks/${task.id}?view=task`)).task.status).toBe('pending');
    const answered = page.locator(`#questions .question[data-question="${q.id}"][data-status="answered"]`);
    await answered.waitFor();
    expect(await answered.locator('.q-answer-text').textContent()).toBe(
      'No date yet: say it is deprecated, and that a date follows in 3.3.',
    );
    expect(await answered.locator('.q-answered-by').textContent()).toBe('reviewer');
    expect(await page.locator('#questions textarea').count()).toBe(0);
    // Kept for the agent that asked, which the page explains; the timeline has the answer.
    expect(await page.locator('#explanation').textContent()).toMatch(/kept for docs-asker/);
    await page.locator('.tl-item[data-kind="task.answered"]').waitFor();
  });

  it('shows questions read-only to agents; an answer that lost the race says so in place', async () => {
    const agentToken = await createToken(coordinator, {
      role: 'agent',
      name: 'race-asker',
      type: 'inbox-race',
    });
    const other = await createToken(coordinator, { role: 'supervisor', name: 'bea' });
    const { task } = await api<{ task: Task }>('POST', '/api/tasks', {
      type: 'inbox-race',
      title: 'Ship it?',
    });
    const before = await openQuestions();
    const q = await askAs(agentToken, task.id, { text: 'Ship on Friday?', choices: ['yes', 'no'] });

    // An agent's session reads the question but gets no controls.
    await signIn(page, agentToken);
    await go('#/questions');
    const seen = page.locator(`#question-list .question[data-question="${q.id}"]`);
    await seen.waitFor();
    expect(await seen.locator('.q-choice-tag').allTextContents()).toEqual(['yes', 'no']);
    expect(await seen.locator('button, textarea').count()).toBe(0);
    expect(await seen.locator('.q-readonly').isVisible()).toBe(true);

    // A supervisor whose live updates do not arrive (a proxy that drops the event stream), so the
    // page still offers the question after someone else answered it.
    await openPage();
    await page.route('**/api/events/stream**', (route) => route.abort());
    await signIn(page);
    // The fleet page counts the open questions, and its tile opens the inbox.
    const tile = page.locator('#fleet-questions');
    expect(await tile.locator('.count-n').textContent()).toBe(String(before + 1));
    expect(await page.locator('#inbox-count').textContent()).toBe(String(before + 1));
    await tile.click();
    const card = page.locator(`#question-list .question[data-question="${q.id}"]`);
    await card.waitFor();
    expect(page.url()).toContain('#/questions');

    await api('POST', `/api/questions/${q.id}/answer`, { answer: 'no' }, other);
    await card.locator('.q-choice[data-choice="yes"]').click();

    // The refusal (409) is shown on the question, which now says who answered it and how.
    const lost = page.locator(`.question[data-question="${q.id}"][data-status="answered"]`);
    await lost.waitFor();
    expect(await lost.locator('.q-error').textContent()).toMatch(/already answered by bea/);
    expect(await lost.locator('.q-answered-by').textContent()).toBe('bea');
    expect(await lost.locator('.q-answer-text').textContent()).toBe('no');
    expect(await page.locator(`#question-list .question[data-question="${q.id}"]`).count()).toBe(0);
    await expect.poll(() => page.locator('#inbox-count').textContent(), POLL).toBe(String(before));
    const { question } = await api<{ question: Question }>('GET', `/api/questions/${q.id}`);
    expect(question).toMatchObject({ answer: 'no', answeredBy: { name: 'bea' } });
  });

  it('shows what agents wrote as text: markup in titles, specs, notes and results never runs', async () => {
    // The server's Content-Security-Policy would stop inline scripts anyway; switch it off here so
    // that this test proves the page itself never turns the text into markup.
    await openPage({ bypassCSP: true });
    const payload =
      '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"><svg onload="window.__pwned = 3">';
    const agent = await register('be-xss', 'backend');
    const { task } = await api<{ task: Task }>('POST', '/api/tasks', {
      type: 'backend',
      title: `Title ${payload}`,
      spec: `Spec ${payload}`,
      review: true,
    });
    await coordinator.assign(task.id, agent.id, TEST);
    const claimed = await coordinator.claimNext(agent);
    await coordinator.progress(task.id, claimed.claimed!.leaseToken, { note: `Note ${payload}` });
    await coordinator.complete(task.id, claimed.claimed!.leaseToken, { result: `Result ${payload}` });
    // And a question: its text, choices and context are the agent's too.
    const asker = await createToken(coordinator, { role: 'agent', name: 'xss-asker', type: 'inbox-xss' });
    const asked = await api<{ task: Task }>('POST', '/api/tasks', {
      type: 'inbox-xss',
      title: `Asked ${payload}`,
    });
    const q = await askAs(asker, asked.task.id, {
      text: `Question ${payload}`,
      choices: [`Choice ${payload}`],
      context: { note: payload },
    });

    await signIn(page);
    // Each page, once rendered with the task's data (an element only that page has).
    const pages: [hash: string, rendered: string][] = [
      ['#/', '.page-fleet tr.agent'],
      ['#/tasks', `.page-tasks tr.task-row[data-task="${task.id}"]`],
      [`#/tasks/${task.id}`, '.page-tasks #task-title'],
      ['#/events', '.page-events #event-feed .event'],
      ['#/questions', `.page-questions .question[data-question="${q.id}"]`],
      [`#/tasks/${asked.task.id}`, `.page-tasks #questions .question[data-question="${q.id}"]`],
    ];
    for (const [hash, rendered] of pages) {
      await go(hash);
      await page.locator(rendered).first().waitFor();
      expect(await page.locator(ACTIVE).count()).toBe(0);
    }
    await go(`#/tasks/${task.id}`);
    await page.locator('#task-title').waitFor();
    expect(await page.locator('#task-title').textContent()).toBe(`Title ${payload}`);
    expect(await page.locator('.result-text').textContent()).toBe(`Result ${payload}`);
    expect(await page.locator('.spec').textContent()).toBe(`Spec ${payload}`);
    // The literal text is on screen (in the page's title, the result, and the attempt history).
    expect(await page.getByText(`Title ${payload}`, { exact: true }).first().isVisible()).toBe(true);
    expect(await page.getByText(`Result ${payload}`, { exact: true }).first().isVisible()).toBe(true);
    expect(await page.getByText(`Note ${payload}`, { exact: true }).first().isVisible()).toBe(true);
    await go('#/questions');
    const card = page.locator(`.question[data-question="${q.id}"]`);
    await card.waitFor();
    expect(await card.locator('.q-text').textContent()).toBe(`Question ${payload}`);
    expect(await card.locator('.q-choice').textContent()).toBe(`Choice ${payload}`);
    expect(await card.locator('.q-task-title').textContent()).toBe(`Asked ${payload}`);
    expect(JSON.parse((await card.locator('.q-context pre').textContent()) ?? '')).toEqual({ note: payload });
    // Nothing that could have run the payload is in the document, and nothing did.
    expect(await page.locator(ACTIVE).count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as PageWindow).__pwned)).toBeUndefined();
  });

  async function openWorkflowGraph(id: number): Promise<Geometry> {
    await go(`#/workflows/${id}`);
    await page.locator('.graph .node').first().waitFor();
    return readGeometry(page);
  }

  it('routes every edge of the graph around the boxes, each on its own path', async () => {
    // #4→#7 used to run under #6 and merge into #6→#7. Long edges (skipping layers), fan-out and
    // fan-in, and two tasks of one layer depending on the same two.
    const wf = await coordinator.createWorkflow(
      {
        name: 'Routing demo',
        tasks: [
          { ref: 't1', type: 'route', title: 'Plan' },
          { ref: 't2', type: 'route', title: 'Schema', dependsOn: ['t1'] },
          { ref: 't3', type: 'route', title: 'API', dependsOn: ['t1'] },
          { ref: 't4', type: 'route', title: 'Fixtures', dependsOn: ['t1'] },
          { ref: 't5', type: 'route', title: 'Handlers', dependsOn: ['t2', 't3'] },
          { ref: 't6', type: 'route', title: 'Client', dependsOn: ['t3', 't5'] },
          { ref: 't7', type: 'route', title: 'Tests', dependsOn: ['t4', 't6'] },
          { ref: 't8', type: 'route', title: 'Docs', dependsOn: ['t1', 't7'] },
          { ref: 't9', type: 'route', title: 'Release', dependsOn: ['t2', 't4', 't7', 't8'] },
        ],
      },
      TEST,
    );
    await signIn(page);
    const g = await openWorkflowGraph(wf.workflow!.id);
    expect(g.nodes).toHaveLength(9);
    expect(g.edges).toHaveLength(15);
    expect(graphFaults(g)).toEqual([]);
    // Layers by depth: each task right of all it depends on.
    const id = (ref: string) => wf.tasks.find((t) => t.ref === ref)!.id;
    const x = (ref: string) => g.nodes.find((n) => n.id === id(ref))!.x;
    expect(x('t1')).toBeLessThan(x('t2'));
    expect(x('t5')).toBeLessThan(x('t6'));
    expect(x('t6')).toBeLessThan(x('t7'));
    expect(x('t8')).toBeLessThan(x('t9'));

    // The check itself fails on a drawing that does what the old one did: an edge through a box,
    // and two edges merged.
    const through = structuredClone(g);
    const six = through.nodes.find((n) => n.id === id('t6'))!;
    through.edges[0]!.points.splice(1, 0, [six.x + 10, six.y + 10]);
    expect(graphFaults(through).some((f) => f.includes(`through #${id('t6')}`))).toBe(true);
    const merged = structuredClone(g);
    merged.edges[1]!.points = [...merged.edges[1]!.points, ...merged.edges[0]!.points.slice(0, 10)];
    expect(graphFaults(merged).some((f) => f.includes('runs along'))).toBe(true);
  });

  it('lays a 120-task workflow out in layers and columns, not one tall column, and keeps it scrollable', async () => {
    const tasks = [
      { ref: 'plan', type: 'wide', title: 'Split the migration' },
      ...Array.from({ length: 118 }, (_, i) => ({
        ref: `part${i}`,
        type: 'wide',
        title: `Migrate table ${i}`,
        dependsOn: ['plan'],
      })),
      {
        ref: 'check',
        type: 'wide',
        title: 'Check every table',
        dependsOn: Array.from({ length: 118 }, (_, i) => `part${i}`),
      },
    ];
    const wf = await coordinator.createWorkflow({ name: 'Wide workflow', tasks }, TEST);
    await signIn(page);
    const g = await openWorkflowGraph(wf.workflow!.id);
    expect(g.nodes).toHaveLength(120);
    expect(g.edges).toHaveLength(236);
    // The old drawing was one column of 118 boxes, over 8,000 px tall. Now the 118 are in several
    // columns (the two hubs are tall: 118 ports each, 6 px apart).
    expect(g.height).toBeLessThan(3500);
    expect(new Set(g.nodes.map((n) => n.x)).size).toBeGreaterThanOrEqual(6);
    expect(graphFaults(g)).toEqual([]);
    const at = (ref: string) => g.nodes.find((n) => n.id === wf.tasks.find((t) => t.ref === ref)!.id)!;
    const parts = g.nodes.filter((n) => n.id !== at('plan').id && n.id !== at('check').id);
    expect(Math.min(...parts.map((n) => n.x))).toBeGreaterThan(at('plan').x);
    expect(Math.max(...parts.map((n) => n.x))).toBeLessThan(at('check').x);
    // It scrolls inside its card, and the last box can be scrolled to.
    const scroller = page.locator('.graph-scroll');
    const { scrollWidth, clientWidth } = await scroller.evaluate((el: unknown) => {
      const e = el as { scrollWidth: number; clientWidth: number };
      return { scrollWidth: e.scrollWidth, clientWidth: e.clientWidth };
    });
    expect(scrollWidth).toBeGreaterThan(clientWidth);
    const last = page.locator(`.graph .node[data-task="${at('check').id}"]`);
    await last.scrollIntoViewIfNeeded();
    expect(await last.isVisible()).toBe(true);
    const box = (await last.boundingBox())!;
    expect(box.x + box.width).toBeLessThanOrEqual(1280);
  });

  it('counts every stuck task, shows their titles, and groups the same reason with a count', async () => {
    const made: Task[] = [];
    for (let i = 0; i < 25; i++)
      made.push((await coordinator.createTask({ type: 'bulk-stuck', title: `Bulk job ${i}` }, TEST)).task);
    // The server counts them all, whatever number it explains.
    const few = await api<{ stuck: unknown[]; stuckTotal: number; stuckTotalExact: boolean }>(
      'GET',
      '/api/status?stuck=5',
    );
    expect(few.stuck).toHaveLength(5);
    expect(few.stuckTotal).toBeGreaterThanOrEqual(25);
    expect(few.stuckTotalExact).toBe(true);

    await signIn(page);
    const total = (await api<{ stuckTotal: number }>('GET', '/api/status?stuck=0')).stuckTotal;
    await expect.poll(() => page.locator('#stuck-count').textContent(), POLL).toBe(String(total));
    // One line for the 25 with the same reason, with the count, and each task's title.
    const group = page.locator('.stuck-group', { hasText: 'no live agent of type "bulk-stuck"' });
    expect(await group.count()).toBe(1);
    expect(await group.getAttribute('data-count')).toBe('25');
    expect(await group.locator('.stuck-n').textContent()).toBe('× 25');
    for (const t of made)
      expect(await group.locator(`.stuck-task[data-task="${t.id}"] .stuck-title`).textContent()).toBe(
        t.title,
      );
    // Five shown, the rest one click away.
    expect(await group.locator('.stuck-task:visible').count()).toBe(5);
    await group.locator('summary', { hasText: 'and 20 more' }).click();
    expect(await group.locator('.stuck-task:visible').count()).toBe(25);
  });

  it('strips terminal escape sequences from what agents wrote', async () => {
    const agent = await register('esc-agent', 'escapes');
    const { task } = await coordinator.createTask(
      { type: 'escapes', title: 'Deploy \u001b[31mred\u001b[0m build', spec: 'Run \u001b]0;pwned\u0007it' },
      TEST,
    );
    await coordinator.assign(task.id, agent.id, TEST);
    const claimed = await coordinator.claimNext(agent);
    await coordinator.progress(task.id, claimed.claimed!.leaseToken, {
      note: '\u001b[1mBold\u001b[22m step\u009b2J done',
      percent: 30,
    });
    await signIn(page);
    await go(`#/tasks/${task.id}`);
    await page.locator('#task-title').waitFor();
    expect(await page.locator('#task-title').textContent()).toBe('Deploy red build');
    expect(await page.locator('.spec').textContent()).toBe('Run it');
    expect(await page.locator('.progress-note').textContent()).toBe('Bold step done');
    const text = await page
      .locator('main')
      .evaluate((el: unknown) => (el as { textContent: string }).textContent);
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    await go('#/tasks');
    expect(await page.locator(`tr.task-row[data-task="${task.id}"] .task-title`).textContent()).toBe(
      'Deploy red build',
    );
  });

  it("shows progress only for the running attempt, and labels an earlier attempt's data", async () => {
    const agent = await register('prog-agent', 'progress-check');
    const { task } = await coordinator.createTask(
      { type: 'progress-check', title: 'Resume me', review: true },
      TEST,
    );
    await coordinator.assign(task.id, agent.id, TEST);
    let claimed = await coordinator.claimNext(agent);
    await coordinator.progress(task.id, claimed.claimed!.leaseToken, { note: 'about half', percent: 40 });
    await signIn(page);
    await go(`#/tasks/${task.id}`);
    await expect.poll(() => page.locator('#progress h2').textContent(), POLL).toBe('Progress');
    expect(await page.locator('#progress .bar').count()).toBe(1);

    // Released: pending again; the 40% is the first attempt's, not the task's.
    await coordinator.release(task.id, claimed.claimed!.leaseToken, 'going away');
    await expect.poll(() => page.locator('.task-head .badge').textContent(), POLL).toBe('pending');
    await expect
      .poll(() => page.locator('#progress h2').textContent(), POLL)
      .toBe('Last progress of attempt #1 (released)');
    expect(await page.locator('#progress .bar').count()).toBe(0);

    // Submitted for review, the result is the task's; cancelled unreviewed, it is attempt #2's.
    await coordinator.assign(task.id, agent.id, TEST);
    claimed = await coordinator.claimNext(agent);
    await coordinator.complete(task.id, claimed.claimed!.leaseToken, { result: 'first try' });
    await expect.poll(() => page.locator('#result h2').textContent(), POLL).toBe('Result');
    expect(await page.locator('#progress h2').textContent()).toMatch(/^Last progress of attempt #1/);
    await coordinator.cancel(task.id, TEST);
    await expect
      .poll(() => page.locator('#result h2').textContent(), POLL)
      .toBe('Result of attempt #2 (submitted for review)');
    expect(await page.locator('#result.earlier').count()).toBe(1);
  });

  it('says plainly when a page or a task does not exist', async () => {
    await signIn(page);
    await go('#/tasks/987654');
    await page.locator('#not-found').waitFor();
    const text = (await page.locator('#not-found').textContent()) ?? '';
    expect(text).toContain('Not found');
    expect(text).toContain('987654');
    expect(text).not.toContain('not_found');
    expect(await page.locator('.alert').count()).toBe(0);
    await go('#/no-such-page');
    await expect
      .poll(() => page.locator('#not-found').textContent(), POLL)
      .toContain('There is no such page');
  });

  it('fills the search box from the address', async () => {
    await coordinator.createTask({ type: 'search-fill', title: 'Rotate the signing keys' }, TEST);
    await signIn(page);
    await go('#/tasks');
    await page.locator('input.search').waitFor();
    expect(await page.locator('input.search').inputValue()).toBe('');
    await go('#/tasks?search=signing');
    await expect.poll(() => page.locator('input.search').inputValue(), POLL).toBe('signing');
    await expect.poll(() => page.locator('tr.task-row').count(), POLL).toBe(1);
    // A link opened afresh too.
    await page.goto(`${server.url}#/tasks?search=rotate`);
    await page.locator('tr.task-row').first().waitFor();
    expect(await page.locator('input.search').inputValue()).toBe('rotate');
  });

  it('draws blocked and cancelled in clearly different colours', async () => {
    await signIn(page);
    await go('#/tasks');
    await page.locator('.chip[data-status="blocked"] .dot').waitFor();
    const rgb = async (status: string) =>
      page
        .locator(`.chip[data-status="${status}"] .dot`)
        .evaluate(
          (el: unknown) =>
            (
              globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }
            ).getComputedStyle(el).backgroundColor,
        )
        .then((c) => (c.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map(Number));
    const [a, b] = [await rgb('blocked'), await rgb('cancelled')];
    expect(a).toHaveLength(3);
    expect(Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!)).toBeGreaterThan(60);
    // The statuses come from the server's lifecycle, in its order.
    expect(
      await page
        .locator('.chips .chip[data-status]')
        .evaluateAll((els: unknown[]) =>
          els.map((e) => (e as { dataset: { status: string } }).dataset.status),
        ),
    ).toEqual([...TASK_STATUSES]);
  });

  it('serves the lifecycle module and the page modules, and nothing outside the dashboard', async () => {
    const get = (path: string) => fetch(new URL(path, server.url));
    const life = await get('/lifecycle.js');
    expect(life.status).toBe(200);
    expect(life.headers.get('content-type')).toMatch(/^text\/javascript/);
    const body = await life.text();
    expect(body).toContain(`export const TASK_STATUSES = Object.freeze(${JSON.stringify(TASK_STATUSES)});`);
    const pageModule = await get('/pages/fleet.js');
    expect(pageModule.status).toBe(200);
    expect(pageModule.headers.get('content-type')).toMatch(/^text\/javascript/);
    for (const path of [
      '/pages/../../dashboard-files.ts',
      '/%2e%2e/%2e%2e/core/status.ts',
      '/..%2f..%2fpackage.json',
      '/lifecycle.d.ts',
    ])
      expect((await get(path)).status, path).toBe(404);
  });

  it('at 390 px wide: titles wrap between words and the graph scrolls sideways', async () => {
    await context?.close();
    context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    const title = 'Refactor the authentication middleware to support rotating signing keys';
    const wf = await coordinator.createWorkflow(
      {
        name: 'Narrow',
        tasks: [
          { ref: 'a', type: 'narrow', title },
          { ref: 'b', type: 'narrow', title: 'Second', dependsOn: ['a'] },
          { ref: 'c', type: 'narrow', title: 'Third', dependsOn: ['b'] },
        ],
      },
      TEST,
    );
    const first = wf.tasks.find((t) => t.ref === 'a')!;
    await signIn(page);
    await go(`#/tasks?search=${encodeURIComponent('authentication middleware')}`);
    const link = page.locator(`tr.task-row[data-task="${first.id}"] .task-title`);
    await link.waitFor();
    // Every word of the title on one line: a word broken in two has two boxes.
    const broken = await link.evaluate((el: unknown) => {
      const doc = (
        globalThis as unknown as {
          document: {
            createRange(): {
              setStart(n: unknown, o: number): void;
              setEnd(n: unknown, o: number): void;
              getClientRects(): { length: number };
            };
          };
        }
      ).document;
      const node = (el as { firstChild: { textContent: string } }).firstChild;
      const out: string[] = [];
      let at = 0;
      for (const word of node.textContent.split(' ')) {
        const range = doc.createRange();
        range.setStart(node, at);
        range.setEnd(node, at + word.length);
        if (range.getClientRects().length !== 1) out.push(word);
        at += word.length + 1;
      }
      return out;
    });
    expect(broken).toEqual([]);

    await go(`#/workflows/${wf.workflow!.id}`);
    await page.locator('.graph .node').first().waitFor();
    const scroller = page.locator('.graph-scroll');
    const sizes = await scroller.evaluate((el: unknown) => {
      const e = el as {
        scrollWidth: number;
        clientWidth: number;
        getBoundingClientRect(): { right: number };
      };
      return {
        scrollWidth: e.scrollWidth,
        clientWidth: e.clientWidth,
        right: e.getBoundingClientRect().right,
      };
    });
    expect(sizes.scrollWidth).toBeGreaterThan(sizes.clientWidth);
    expect(sizes.right).toBeLessThanOrEqual(390);
    const last = page.locator(`.graph .node[data-task="${wf.tasks.find((t) => t.ref === 'c')!.id}"]`);
    await last.scrollIntoViewIfNeeded();
    const box = (await last.boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(390);
  });

  it('folds agents offline for more than an hour behind a toggle', async () => {
    // Agents that registered (and last beat) three hours ago, through a coordinator whose clock says so.
    const past = await openCoordinator({
      db: join(dir, 'cns.db'),
      reaper: false,
      clock: new ManualClock(Date.now() - 3 * 3600_000),
    });
    try {
      await past.registerAgent({ name: 'old-timer-1', type: 'gone', capabilities: [] });
      await past.registerAgent({ name: 'old-timer-2', type: 'gone', capabilities: [] });
    } finally {
      await past.close();
    }
    const recent = await register('just-left', 'gone');
    await coordinator.deregisterAgent(recent.id, recent.session);
    await register('still-here', 'gone');

    await signIn(page);
    const old = page.locator('tr.agent[data-agent^="old-timer"]');
    await page.locator('tr.agent[data-agent="still-here"]').waitFor();
    expect(await page.locator('tr.agent[data-agent="just-left"]').isVisible()).toBe(true);
    expect(await old.count()).toBe(2);
    expect(await old.first().isVisible()).toBe(false);
    const toggle = page.locator('#older-agents');
    expect(await toggle.textContent()).toMatch(/^2 older offline agents/);
    await toggle.click();
    expect(await old.nth(0).isVisible()).toBe(true);
    expect(await old.nth(1).isVisible()).toBe(true);
    expect(await toggle.textContent()).toMatch(/^Hide the 2 older offline agents/);
    // A live refresh keeps them shown.
    const head = page.locator('.page-fleet h1');
    await head.evaluate((el: unknown) => ((el as { stale?: boolean }).stale = true));
    await coordinator.createTask({ type: 'docs', title: 'Something happens' }, TEST);
    await expect
      .poll(() => head.evaluate((el: unknown) => (el as { stale?: boolean }).stale === true), POLL)
      .toBe(false);
    expect(await old.first().isVisible()).toBe(true);
  });
});
