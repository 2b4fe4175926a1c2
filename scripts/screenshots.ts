/**
 * Regenerates the dashboard screenshots in docs/ (the README and docs/dashboard.md show them): runs
 * `cns demo` (the simulated fleet, from the sources, on a throw-away database, slowed down so that
 * short-lived moments last long enough to be caught), signs in with headless Chromium, and saves
 * one PNG per main page, 1400 px wide, each once the demo has reached a moment that shows the page
 * with data: agents at work (fleet), a workflow half done (workflow graph), an open question
 * (inbox), a result waiting for review after a change request (task), many tasks (list).
 *
 *   npm run screenshots          (node --import tsx scripts/screenshots.ts)
 *
 * Needs Chromium: /usr/bin/chromium (Debian: apt-get install -y chromium) or CNS_CHROMIUM=/path.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = process.env.CNS_CHROMIUM ?? '/usr/bin/chromium';
/** Slow enough that a question stays open, and a result waits for its review, for several seconds. */
const SPEED = '0.6';
/** Give up after this long. */
const TIMEOUT_MS = 6 * 60_000;

interface Demo {
  url: string;
  token: string;
  stop(): Promise<void>;
}

/** Starts `cns demo` and reads its dashboard URL and token from its output. */
async function startDemo(): Promise<Demo> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CNS_')) env[k] = v;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'demo', '--speed', SPEED, '--port', '0'],
    { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let url = '';
  let token = '';
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`cns demo exited (${code}) before it was ready`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (process.env.CNS_SCREENSHOTS_VERBOSE) console.log(`  demo: ${line}`);
      url ||= /Dashboard:\s+(http\S+)/.exec(line)?.[1] ?? '';
      token ||= /token:\s+(cns_\S+)/.exec(line)?.[1] ?? '';
      if (url && token) resolve();
    });
  });
  return {
    url,
    token,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

interface TaskRow {
  id: number;
  title: string;
  status: string;
  reviewRounds: number;
  workflowId: number | null;
}

/** One screenshot: taken once `find` returns the page to show and the text that says it has rendered. */
interface Shot {
  file: string;
  find(api: Api): Promise<{ hash: string; text: string; still?: () => Promise<boolean> } | null>;
}

type Api = <T>(path: string) => Promise<T>;

/** How many tasks at work (of a workflow) have reported at least 40 %. */
async function advanced(api: Api, workflowId?: number): Promise<number> {
  const wf = workflowId === undefined ? '' : `&workflow=${workflowId}`;
  const page = await api<{ items: { progress: { percent: number | null } }[] }>(
    `/api/tasks?status=in_progress${wf}`,
  );
  return page.items.filter((t) => (t.progress.percent ?? 0) >= 40).length;
}

const SHOTS: Shot[] = [
  {
    // The fleet well into the work: most agents busy and past their first steps, tasks done.
    file: 'dashboard-fleet.png',
    async find(api) {
      const s = await api<{
        agents: { name: string; heldTasks: number[] }[];
        counts: Record<string, number>;
      }>('/api/status');
      const busy = s.agents.filter((a) => a.heldTasks.length > 0);
      if (busy.length < 3 || (s.counts.completed ?? 0) < 1 || (s.counts.blocked ?? 0) < 1) return null;
      return (await advanced(api)) >= 2 ? { hash: '#/', text: busy[0]!.name } : null;
    },
  },
  {
    // A workflow half done: some tasks completed, some at work past their first steps, some blocked.
    file: 'dashboard-workflow.png',
    async find(api) {
      const wfs = await api<{ items: { id: number; name: string; counts: Record<string, number> }[] }>(
        '/api/workflows',
      );
      for (const w of wfs.items) {
        const { completed = 0, in_progress = 0, blocked = 0 } = w.counts;
        if (completed >= 1 && in_progress >= 2 && blocked >= 1 && (await advanced(api, w.id)) >= 2)
          return { hash: `#/workflows/${w.id}`, text: w.name };
      }
      return null;
    },
  },
  {
    // An open question in the inbox.
    file: 'dashboard-inbox.png',
    async find(api) {
      const q = (await api<{ questions: { id: number; text: string }[] }>('/api/questions?status=open'))
        .questions[0];
      if (!q) return null;
      const still = async () =>
        (await api<{ questions: { id: number }[] }>('/api/questions?status=open')).questions.some(
          (x) => x.id === q.id,
        );
      return { hash: '#/questions', text: q.text.slice(0, 40), still };
    },
  },
  {
    // A result waiting for review, after a first round of changes (the history shows the feedback).
    file: 'dashboard-task.png',
    async find(api) {
      const tasks = (await api<{ items: TaskRow[] }>('/api/tasks?status=awaiting_review')).items;
      const t = tasks.find((x) => x.reviewRounds >= 1);
      if (!t) return null;
      const still = async () =>
        (await api<{ task: TaskRow }>(`/api/tasks/${t.id}`)).task.status === 'awaiting_review';
      return { hash: `#/tasks/${t.id}`, text: 'Approve', still };
    },
  },
  {
    // The task list once there is plenty in it.
    file: 'dashboard-tasks.png',
    async find(api) {
      const page = await api<{ items: TaskRow[] }>('/api/tasks?limit=500');
      const statuses = new Set(page.items.map((t) => t.status));
      return page.items.length >= 12 && statuses.size >= 4
        ? { hash: '#/tasks', text: page.items[0]!.title }
        : null;
    },
  },
];

async function show(page: Page, hash: string, text: string): Promise<void> {
  await page.evaluate(
    (h) => ((globalThis as unknown as { location: { hash: string } }).location.hash = h),
    hash,
  );
  await page.getByText(text, { exact: false }).first().waitFor({ timeout: 10_000 });
  await page.waitForTimeout(300); // let live refreshes settle
}

async function main(): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium, or set CNS_CHROMIUM`);
  }
  mkdirSync(join(ROOT, 'docs'), { recursive: true });
  const demo = await startDemo();
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
    const api: Api = async <T>(path: string) => {
      const res = await fetch(new URL(path, demo.url), {
        headers: { authorization: `Bearer ${demo.token}` },
      });
      if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
      return (await res.json()) as T;
    };
    const page = await browser.newPage({
      viewport: { width: 1400, height: 900 },
      colorScheme: 'light',
      deviceScaleFactor: 1,
    });
    page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
    await page.goto(demo.url);
    await page.fill('#token', demo.token);
    await page.click('#signin button[type=submit]');
    await page.waitForFunction(
      () =>
        !(
          globalThis as unknown as { document: { getElementById(id: string): unknown } }
        ).document.getElementById('signin'),
    );
    const pending = [...SHOTS];
    const deadline = Date.now() + TIMEOUT_MS;
    while (pending.length > 0) {
      if (Date.now() > deadline)
        throw new Error(`gave up waiting for the moment of ${pending.map((s) => s.file).join(', ')}`);
      for (const shot of [...pending]) {
        const found = await shot.find(api);
        if (!found) continue;
        try {
          await show(page, found.hash, found.text);
        } catch {
          continue; // the moment passed before the page showed it: wait for the next one
        }
        if (found.still && !(await found.still())) continue;
        await page.screenshot({ path: join(ROOT, 'docs', shot.file), fullPage: true });
        console.log(`docs/${shot.file}`);
        pending.splice(pending.indexOf(shot), 1);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await browser.close();
    await demo.stop();
  }
}

await main();
