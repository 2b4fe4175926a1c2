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
import type { Agent, Question, Task } from '../src/core/types.js';
import { startServer } from '../src/http/http-server.js';
import { createToken } from '../src/http/tokens.js';

const CHROMIUM = process.env.CNS_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const IN_CI = process.env.CI === 'true';
/** The browser's globals as the page functions below use them (the tests compile without the DOM lib). */
interface PageWindow {
  location: { hash: string };
  document: { cookie: string };
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

  async function go(hash: string): Promise<void> {
    await page.evaluate((h) => ((globalThis as unknown as PageWindow).location.hash = h), hash);
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
});
