/**
 * What the demo fleet works on: feature workflows (design → backend and frontend in parallel →
 * end-to-end tests → final review) and, in each task's metadata (`metadata.demo`), the script its
 * agent plays: the progress notes of its steps, its result, and the incidents to stage (a crash
 * after a checkpoint, a question, a failure, review feedback). The agents read nothing else: they
 * act on what cns hands them (the task, its handoff, its questions and answers).
 */
import type { NewTask, NewWorkflow } from '../core/batch.js';
import type { Json } from '../core/types.js';

/** The agent types of the demo fleet, in the order a fleet of n agents is made of. */
export const ROSTER: readonly string[] = [
  'designer',
  'backend',
  'frontend',
  'tester',
  'reviewer',
  'backend',
  'frontend',
  'tester',
  'designer',
  'backend',
];

/** The script of one task, kept in `metadata.demo`. */
export interface TaskScript {
  /** One progress note per step. */
  steps: string[];
  result: string;
  /** Crash (the process dies) once the checkpoint at this percent is saved, on the first attempt. */
  crashAt?: number;
  /** Ask this question once this percent is reached (once per task). */
  ask?: { at: number; text: string; choices: string[]; context: Json };
  /** Fail at this percent, on the first attempt. */
  fail?: { at: number; error: string; retryable: boolean };
  /** A reviewer requests these changes in the first review round. */
  changes?: string;
}

/** The script of a task, read back from its metadata; null when it has none. */
export function scriptOf(metadata: Record<string, Json> | null | undefined): TaskScript | null {
  const s = metadata?.demo as unknown as TaskScript | undefined;
  if (!s || typeof s !== 'object' || !Array.isArray(s.steps) || typeof s.result !== 'string') return null;
  return s;
}

interface Feature {
  name: string;
  slug: string;
  screen: string;
  table: string;
  endpoint: string;
  /** A decision the frontend asks about. */
  question: { text: string; choices: string[]; context: Json };
}

const FEATURES: readonly Feature[] = [
  {
    name: 'Password reset by email',
    slug: 'password-reset',
    screen: '"Forgot password" and "Choose a new password" screens',
    table: 'password_resets',
    endpoint: 'POST /password-resets and POST /password-resets/:token',
    question: {
      text: 'Should the reset link expire after 15 minutes or after 24 hours? Shorter is safer, but support says mail often arrives late.',
      choices: ['15 minutes', '1 hour', '24 hours'],
      context: { lateMailTickets30d: 41, medianDeliverySeconds: 38 },
    },
  },
  {
    name: 'Team invitations',
    slug: 'team-invites',
    screen: 'invite dialog and pending-invitations list',
    table: 'invitations',
    endpoint: 'POST /teams/:id/invitations and POST /invitations/:token/accept',
    question: {
      text: 'May members invite people, or only admins? The design allows both.',
      choices: ['Only admins', 'Admins and members', 'Members, with admin approval'],
      context: { teamsWithOneAdmin: '62%' },
    },
  },
  {
    name: 'CSV export of invoices',
    slug: 'invoice-export',
    screen: 'export button and date-range picker',
    table: 'export_jobs',
    endpoint: 'POST /invoices/exports and GET /invoices/exports/:id',
    question: {
      text: 'Large exports take minutes. Download in the browser when ready, or send a link by email?',
      choices: ['Download when ready', 'Email a link', 'Both'],
      context: { p95InvoicesPerExport: 18000 },
    },
  },
  {
    name: 'Audit log',
    slug: 'audit-log',
    screen: 'audit log page with filters',
    table: 'audit_events',
    endpoint: 'GET /audit-events',
    question: {
      text: 'How long should audit events be kept?',
      choices: ['90 days', '1 year', 'Forever'],
      context: { eventsPerDay: 120000 },
    },
  },
  {
    name: 'Two-factor authentication',
    slug: 'two-factor',
    screen: 'authenticator set-up and code prompt',
    table: 'totp_secrets',
    endpoint: 'POST /me/2fa and POST /sessions/2fa',
    question: {
      text: 'Offer recovery codes at set-up, or only SMS fallback?',
      choices: ['Recovery codes', 'SMS fallback', 'Both'],
      context: { usersWithPhoneNumber: '71%' },
    },
  },
];

export interface DemoWorkflow {
  workflow: NewWorkflow;
  tasks: NewTask[];
  /** The ref of the task the supervisor assigns to a designer. */
  assignRef: string;
}

/**
 * The n-th workflow (0-based). The first one stages every incident, so that each shows within the
 * first minute; later ones stage each with probability `chance` (`random` gives a number in [0, 1)).
 */
export function buildWorkflow(n: number, random: () => number = Math.random): DemoWorkflow {
  const f = FEATURES[n % FEATURES.length]!;
  const round = Math.floor(n / FEATURES.length);
  const name = round === 0 ? f.name : `${f.name} (v${round + 1})`;
  const stage = (chance: number) => n === 0 || random() < chance;
  const branch = (ref: string) => `feat/${f.slug}${round ? `-v${round + 1}` : ''}-${ref}`;
  const task = (
    ref: string,
    type: string,
    title: string,
    spec: string,
    script: TaskScript,
    more: Partial<NewTask> = {},
  ): NewTask => ({
    ref,
    type,
    title,
    spec,
    ...more,
    input: { feature: name, branch: branch(ref) },
    metadata: { demo: script as unknown as Json },
  });
  const tasks: NewTask[] = [
    task(
      'design',
      'designer',
      `Design the ${f.screen}`,
      `Design the ${f.screen} for "${name}": the main flow, empty, loading and error states, light and dark.`,
      {
        steps: [
          'Collected the requirements and the existing patterns',
          'Wireframes for the main flow',
          'Empty, loading and error states',
          'Specs and colour tokens exported for the developers',
        ],
        result: `Screens and specs in design/${f.slug}.fig; tokens exported to src/styles/${f.slug}.css.`,
      },
    ),
    task(
      'schema',
      'backend',
      `Add the ${f.table} table and migration`,
      `A migration that creates ${f.table} (with a down migration), its indexes and constraints.`,
      {
        steps: [
          `Drafted the ${f.table} columns from the design`,
          'Migration written: up and down',
          'Indexes and foreign keys added',
          'Migration run against a copy of production data',
        ],
        result: `Migration 00${42 + n}_${f.table}.sql: the table, its indexes, and a tested down migration.`,
        ...(stage(0.5) ? { crashAt: 50 } : {}),
      },
      { dependsOn: ['design'] },
    ),
    task(
      'api',
      'backend',
      `Implement ${f.endpoint}`,
      `Implement ${f.endpoint}: validation, persistence, errors as problem+json, unit tests.`,
      {
        steps: [
          'Routes and request validation',
          'Handlers and persistence',
          'Error cases mapped to status codes',
          'Unit tests written and passing',
        ],
        result: `${f.endpoint} in src/api/${f.slug}.ts, with 12 unit tests.`,
        ...(stage(0.5)
          ? {
              changes:
                'Rate-limit these endpoints (they can be used to probe for accounts) and add a test for it.',
            }
          : {}),
      },
      { dependsOn: ['design'], review: true },
    ),
    task(
      'ui',
      'frontend',
      `Build the ${f.screen}`,
      `Build the ${f.screen} from the design task's specs, wired to the API client.`,
      {
        steps: [
          'Component skeleton from the design',
          'Form state and validation',
          'Wired to the API client',
          'Responsive layout and accessibility pass',
        ],
        result: `Components in src/ui/${f.slug}/, with stories and an accessibility check.`,
        ...(stage(0.5) ? { ask: { at: 50, ...f.question } } : {}),
      },
      { dependsOn: ['design'] },
    ),
    task(
      'e2e',
      'tester',
      `End-to-end tests for ${name.toLowerCase()}`,
      'Playwright scenarios for the happy path and each error case, run on CI.',
      {
        steps: [
          'Test plan from the specs',
          'Happy-path scenario',
          'Error-case scenarios',
          'Full suite green on CI',
        ],
        result: '9 Playwright scenarios in e2e/ (happy path and 8 error cases), green on CI.',
        ...(stage(0.5)
          ? {
              fail: {
                at: 75,
                error:
                  'CI runner ci-7 lost its browser download (ECONNRESET from the mirror); nothing wrong with the tests',
                retryable: false,
              },
            }
          : {}),
      },
      { dependsOn: ['schema', 'api', 'ui'], maxAttempts: 2 },
    ),
    task(
      'release',
      'reviewer',
      `Review and release ${name.toLowerCase()}`,
      'Read the results of the workflow, check them against the design, write the release notes.',
      {
        steps: [
          'Read the results of the workflow',
          'Checked the changes against the design',
          'Release notes drafted',
        ],
        result: `Approved for release; notes in CHANGELOG.md under "${name}".`,
      },
      { dependsOn: ['e2e'] },
    ),
  ];
  return { workflow: { name }, tasks, assignRef: 'design' };
}
