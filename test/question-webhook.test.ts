/**
 * The question webhook, against a real HTTP server on a port of this machine: a question asked
 * is POSTed to the global URL (retried after a failure, with the same delivery id) and to its
 * workflow's `metadata.questionWebhook`, signed with HMAC-SHA256 of the shared secret.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentSession } from '../src/coordinator/agent-session.js';
import { openCoordinator } from '../src/coordinator/open-coordinator.js';
import type { Coordinator } from '../src/coordinator/coordinator.js';
import { tempDb } from './support/mcp-harness.js';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const SECRET = 'a shared secret';
const tmp = tempDb();
const received: Received[] = [];
let server: Server;
let base: string;
let cns: Coordinator;
const errors: unknown[] = [];

beforeAll(async () => {
  let globalTries = 0;
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body });
      // The global receiver fails its first delivery: cns must try again.
      const fail = req.url === '/global' && globalTries++ === 0;
      res.writeHead(fail ? 503 : 204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cns = await openCoordinator({
    db: tmp.db,
    questionWebhookUrl: `${base}/global`,
    webhookSecret: SECRET,
    onError: (err) => errors.push(err),
  });
});

afterAll(async () => {
  await cns?.close();
  await new Promise((r) => server?.close(r));
  tmp.cleanup();
});

async function until(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms; received ${JSON.stringify(received)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('question webhook', () => {
  it('posts each question, signed, to the global and the workflow URL; a failed delivery is retried', async () => {
    const { tasks } = await cns.createWorkflow(
      {
        name: 'keys',
        metadata: { questionWebhook: `${base}/workflow` },
        tasks: [{ ref: 'rotate', type: 'ops', title: 'Rotate the keys' }],
      },
      'supervisor',
    );
    const agent = await AgentSession.start(cns, { name: 'ada', type: 'ops' });
    try {
      const next = await agent.next({ waitMs: 0 });
      expect(next.claimed?.task.id).toBe(tasks[0]!.id);
      const { question } = await agent.ask(tasks[0]!.id, {
        text: 'Revoke now?',
        choices: ['now', 'later'],
        for: 'security',
      });

      await until(() => received.filter((r) => r.path === '/global').length >= 2, 8_000);
      await until(() => received.some((r) => r.path === '/workflow'), 2_000);
      const global = received.filter((r) => r.path === '/global');
      expect(global).toHaveLength(2);
      // The retry is the same delivery, byte for byte.
      expect(global[1]!.body).toBe(global[0]!.body);
      for (const r of [...global, ...received.filter((x) => x.path === '/workflow')]) {
        expect(r.headers['content-type']).toBe('application/json');
        expect(r.headers['x-cns-event']).toBe('question.asked');
        expect(r.headers['x-cns-delivery']).toBe(String(question.id));
        const expected = `sha256=${createHmac('sha256', SECRET).update(r.body).digest('hex')}`;
        expect(r.headers['x-cns-signature']).toBe(expected);
        const body = JSON.parse(r.body) as {
          event: string;
          question: { id: number; text: string; choices: string[]; for: string; askedBy: { name: string } };
          task: { id: number; title: string; workflowId: number };
        };
        expect(body.event).toBe('question.asked');
        expect(body.question).toMatchObject({
          id: question.id,
          text: 'Revoke now?',
          choices: ['now', 'later'],
          for: 'security',
          askedBy: { name: 'ada' },
        });
        expect(body.task).toMatchObject({ id: tasks[0]!.id, title: 'Rotate the keys' });
      }
      // A signature made with another secret would not match.
      const forged = `sha256=${createHmac('sha256', 'wrong').update(global[0]!.body).digest('hex')}`;
      expect(global[0]!.headers['x-cns-signature']).not.toBe(forged);
      expect(errors).toEqual([]);
    } finally {
      await agent.stop();
    }
  });
});
