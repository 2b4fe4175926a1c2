/**
 * Regenerates the dashboard screenshots in docs/ (the README and docs/dashboard.md show them):
 * starts `cns serve` in-process on a throw-away SQLite file, fills it with a demo fleet (agents, two
 * workflows with tasks in every interesting state, a review pending, two questions waiting for an
 * answer), signs in with headless
 * Chromium and saves one PNG per main page.
 *
 *   npm run screenshots          (node --import tsx scripts/screenshots.ts)
 *
 * Needs Chromium: /usr/bin/chromium (Debian: apt-get install -y chromium) or CNS_CHROMIUM=/path.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import type { Actor } from '../src/coordinator/api-types.js';
import type { Coordinator } from '../src/coordinator/coordinator.js';
import type { Agent } from '../src/core/types.js';
import { startServer } from '../src/http/http-server.js';
import { createToken } from '../src/http/tokens.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = process.env.CNS_CHROMIUM ?? '/usr/bin/chromium';
const LEASE_MS = 30 * 60_000;

/**
 * A small but realistic fleet: every task status, a review waiting, two open questions (one with
 * choices and context), a stuck task, an offline agent.
 */
async function seedDemoFleet(c: Coordinator): Promise<void> {
  const sup: Actor = { name: 'supervisor', agentId: null, role: 'supervisor' };
  const agent = (name: string, type: string, capabilities: string[], pid: number) =>
    c.registerAgent({ name, type, capabilities, host: 'build-01', pid });
  const be1 = await agent('backend-1', 'backend', ['node', 'postgres'], 41022);
  const be2 = await agent('backend-2', 'backend', ['node'], 41087);
  const fe1 = await agent('frontend-1', 'frontend', ['css', 'react'], 41130);
  await agent('qa-1', 'qa', ['playwright'], 41201);
  const docs = await agent('docs-1', 'docs', ['markdown'], 40876);

  /** Assign the task to the agent and claim it, report progress, and complete it if a result is given. */
  const work = async (
    taskId: number,
    a: Agent,
    notes: { note: string; percent: number }[],
    result?: string,
  ): Promise<string> => {
    await c.assign(taskId, a.id, sup);
    const out = await c.claimNext(a, { leaseMs: LEASE_MS });
    if (!out.claimed) throw new Error(`demo: ${a.name} could not claim task ${taskId}: ${out.reason}`);
    const token = out.claimed.leaseToken;
    for (const n of notes) await c.progress(taskId, token, n);
    if (result !== undefined) await c.complete(taskId, token, { result });
    return token;
  };

  const oauth = await c.createWorkflow(
    {
      name: 'Add OAuth sign-in',
      tasks: [
        {
          ref: 'design',
          type: 'frontend',
          title: 'Design the sign-in screens',
          spec: 'Provider picker, error and loading states. Light and dark.',
        },
        {
          ref: 'schema',
          type: 'backend',
          requires: ['postgres'],
          title: 'Add oauth_accounts table and migration',
          spec: 'One row per (user, provider); unique (provider, subject).',
        },
        {
          ref: 'api',
          type: 'backend',
          title: 'Implement /auth/callback and token exchange',
          dependsOn: ['schema'],
          review: true,
          spec:
            'Exchange the authorization code for tokens (PKCE), upsert oauth_accounts, start a session.\n\n' +
            'Acceptance:\n- the state parameter is checked\n- errors redirect to /signin?error=…\n- unit tests for the happy path and each error',
          input: { providers: ['github', 'google'], callbackPath: '/auth/callback' },
        },
        {
          ref: 'ui',
          type: 'frontend',
          title: 'Sign-in button and provider picker',
          dependsOn: ['design'],
          spec: 'Use the screens from the design task.',
        },
        {
          ref: 'e2e',
          type: 'qa',
          title: 'End-to-end tests for the OAuth flow',
          dependsOn: ['api', 'ui'],
          spec: 'Playwright, against a fake provider.',
        },
        { ref: 'docs', type: 'docs', title: 'Document provider set-up', dependsOn: ['api'] },
        {
          ref: 'rollout',
          type: 'backend',
          title: 'Enable OAuth behind a feature flag',
          dependsOn: ['e2e', 'docs'],
        },
      ],
    },
    sup,
  );
  const ref = (r: string) => oauth.tasks.find((t) => t.ref === r)!.id;
  await work(
    ref('design'),
    fe1,
    [{ note: 'Wireframes for the picker and the error page', percent: 50 }],
    'Screens in the design file (sign-in, picker, error). Colour tokens exported to src/styles/auth.css.',
  );
  await work(
    ref('schema'),
    be1,
    [{ note: 'Writing migration 0042', percent: 40 }],
    'Migration 0042_oauth_accounts.sql: the table, a unique (provider, subject) index, and a down migration.',
  );
  await work(
    ref('api'),
    be1,
    [
      { note: 'Callback handler written; adding PKCE', percent: 60 },
      { note: 'PKCE and state checks done; writing tests', percent: 85 },
    ],
    'Implemented GET /auth/callback with PKCE and state checks in src/auth/callback.ts; 9 unit tests.',
  );
  await c.review(ref('api'), {
    reviewer: { name: 'alice', agentId: null, role: 'supervisor' },
    approve: false,
    feedback:
      'When the provider redirects back with ?error=access_denied the handler throws a 500. Redirect to /signin?error=<code> instead, and test it.',
  });
  await work(
    ref('api'),
    be1,
    [{ note: 'Handling ?error= from the provider; adding tests', percent: 70 }],
    'GET /auth/callback now redirects provider errors to /signin?error=<code>; 14 unit tests (5 new, one per error code).',
  );
  await work(ref('ui'), fe1, [
    { note: 'Provider picker component done', percent: 40 },
    { note: 'Wiring the redirect to /auth/start', percent: 65 },
  ]);

  const node = await c.createWorkflow(
    {
      name: 'Upgrade to Node 22',
      tasks: [
        { ref: 'ci', type: 'backend', title: 'Bump the CI image to Node 22', maxAttempts: 1 },
        { ref: 'native', type: 'backend', title: 'Rebuild the native modules', dependsOn: ['ci'] },
        { ref: 'bench', type: 'backend', title: 'Compare benchmark numbers', dependsOn: ['native'] },
      ],
    },
    sup,
  );
  const ci = node.tasks.find((t) => t.ref === 'ci')!.id;
  const ciToken = await work(ci, be2, [{ note: 'Updating .ci/Dockerfile', percent: 30 }]);
  await c.fail(ci, ciToken, {
    error: 'apt-get: package nodejs=22.* has no installation candidate in bookworm-backports',
    retryable: false,
  });

  await c.createTask(
    {
      type: 'gpu',
      requires: ['cuda'],
      title: 'Re-train the ranking model on last week’s clicks',
      spec: 'Nightly job; needs a CUDA machine.',
    },
    sup,
  );
  const flaky = await c.createTask(
    {
      type: 'backend',
      title: 'Investigate the flaky payments test',
      spec: 'payments.test.ts fails about 1 run in 30 on CI; find out why.',
      priority: 2,
    },
    sup,
  );
  const flakyToken = await work(flaky.task.id, be2, [
    { note: 'Reproduced locally: fails when the nightly job runs at the same time', percent: 60 },
  ]);
  await c.ask(flaky.task.id, flakyToken, {
    text:
      'payments.test.ts fails whenever the nightly reconciliation job runs at the same time: both use ' +
      'the one Stripe sandbox account, and the job deletes the customers the test has just created. ' +
      'Which fix do you want?',
    choices: [
      'Mock Stripe in payments.test.ts',
      'Give CI its own Stripe sandbox account',
      'Move the nightly job out of CI hours',
    ],
    context: {
      failures: '7 of 210 CI runs in the last 14 days',
      failingTest: 'refunds a partially captured charge',
      evidence: [
        'ci run 88412: customer deleted by reconcile-nightly at 02:00:07, test failed at 02:00:09',
        'ci run 88519: customer deleted at 02:00:04, test failed at 02:00:05',
      ],
      cost: {
        mock: 'half a day; loses coverage of the real API',
        sandbox: 'one more (free) Stripe account and a CI secret',
        schedule: 'a cron change; CI still runs at night for hotfixes',
      },
    },
  });
  const release = await c.createWorkflow(
    {
      name: 'Release 3.2',
      tasks: [
        {
          ref: 'notes',
          type: 'docs',
          title: 'Write the release notes for 3.2',
          spec: 'From the merged pull requests since 3.1; group by area; call out breaking changes.',
        },
        { ref: 'tag', type: 'backend', title: 'Tag and publish 3.2', dependsOn: ['notes'] },
      ],
    },
    sup,
  );
  const notes = release.tasks.find((t) => t.ref === 'notes')!.id;
  const notesToken = await work(notes, docs, [{ note: 'Draft grouped by area', percent: 70 }]);
  await c.ask(notes, notesToken, {
    text:
      'GET /v1/export is deprecated in 3.2, but two customers still call it every day. ' +
      'Should the release notes name a removal date, or only say that it is deprecated?',
    for: 'product',
  });
  const dropped = await c.createTask({ type: 'frontend', title: 'Landing page A/B test' }, sup);
  await c.cancel(dropped.task.id, sup, 'the experiment was dropped');
  await c.deregisterAgent(docs.id, docs.session);
}

async function shoot(page: Page, hash: string, ready: string, file: string): Promise<void> {
  await page.evaluate(
    (h) => ((globalThis as unknown as { location: { hash: string } }).location.hash = h),
    hash,
  );
  await page.waitForSelector(ready);
  await page.waitForTimeout(400); // let live refreshes settle
  await page.screenshot({ path: join(ROOT, 'docs', file), fullPage: true });
  console.log(`docs/${file}`);
}

async function main(): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium, or set CNS_CHROMIUM`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'cns-screenshots-'));
  const db = join(dir, 'cns.db');
  const server = await startServer({ db, port: 0, host: '127.0.0.1' });
  const coordinator = server.coordinator;
  const browser = await chromium.launch({
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
  try {
    await seedDemoFleet(coordinator);
    const token = await createToken(coordinator, { role: 'supervisor', name: 'alice' });
    mkdirSync(join(ROOT, 'docs'), { recursive: true });
    const page = await browser.newPage({
      viewport: { width: 1360, height: 860 },
      colorScheme: 'light',
      deviceScaleFactor: 1,
    });
    page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
    await page.goto(server.url);
    await page.fill('#token', token);
    await page.click('#signin button[type=submit]');
    await page.waitForSelector('.page-fleet');
    const review = (await coordinator.listTasks({ status: ['awaiting_review'] })).items[0]!;
    const workflow = (await coordinator.listWorkflows()).items[0]!;
    await shoot(page, '#/', '.page-fleet .agents', 'dashboard-fleet.png');
    await shoot(page, '#/tasks', '.page-tasks .tasks', 'dashboard-tasks.png');
    await shoot(page, '#/questions', '.page-questions .question', 'dashboard-inbox.png');
    await shoot(page, `#/tasks/${review.id}`, '#approve', 'dashboard-task.png');
    await shoot(page, `#/workflows/${workflow.id}`, '.graph .node', 'dashboard-workflow.png');
  } finally {
    await browser.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
