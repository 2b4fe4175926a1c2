// @ts-check
// One task (`#/tasks/12`): why it is not moving, its details, progress, result, specification,
// questions, dependencies, attempts, timeline, and the supervisor's actions.

import { api } from '../api.js';
import { h } from '../dom.js';
import { explanationNode } from '../explain.js';
import { FINAL_STATUSES } from '../lifecycle.js';
import { refresh } from '../router.js';
import { canSupervise, rememberAgents } from '../state.js';
import {
  clock,
  details,
  empty,
  json,
  progressBar,
  section,
  statusBadge,
  tags,
  taskLink,
  textBlock,
  time,
  workflowLink,
} from '../widgets.js';
import { questionCard } from './questions.js';

/** @typedef {import('../../../core/types.js').Task & { allowedActions?: import('../../../core/status.js').TaskAction[] }} Task */
/** @typedef {import('../../../core/types.js').Attempt} Attempt */
/** @typedef {import('../../../core/types.js').Agent} Agent */
/** @typedef {import('../../../core/types.js').CnsEvent} CnsEvent */
/** @typedef {import('../../../coordinator/api-types.js').TaskDetail} TaskDetail */
/** @typedef {import('./../dom.js').Child} Child */

/** @param {string} s */
const isFinal = (s) => /** @type {readonly string[]} */ (FINAL_STATUSES).includes(s);

/**
 * @param {HTMLElement} c
 * @param {number} id
 */
export async function renderTask(c, id) {
  /** @type {[TaskDetail & { task: Task }, { agents: Agent[] }]} */
  const [detail, agents] = await Promise.all([api(`/api/tasks/${id}`), api('/api/agents')]);
  const { task, dependencies, dependents, attempts, events, explanation } = detail;
  const questions = detail.questions ?? [];
  /** @type {{ workflow: import('../../../core/types.js').Workflow, tasks: Task[] } | null} */
  const wf =
    task.workflowId !== null ? await api(`/api/workflows/${task.workflowId}`).catch(() => null) : null;
  const agentNames = rememberAgents(agents.agents);
  const titles = new Map((wf?.tasks ?? []).map((t) => [t.id, t.title]));
  /** @param {number | null} aid */
  const agentName = (aid) => (aid === null ? null : (agentNames.get(aid) ?? `#${aid}`));

  c.append(
    h(
      'nav',
      { class: 'crumbs' },
      h('a', { href: '#/tasks' }, 'Tasks'),
      wf ? [' / ', workflowLink(wf.workflow.id, wf.workflow.name)] : null,
      ` / #${task.id}`,
    ),
    h(
      'div',
      { class: 'page-head task-head' },
      h('h1', { class: 'task-title', id: 'task-title' }, task.title),
      statusBadge(task.status),
    ),
  );

  if (!isFinal(task.status)) {
    c.append(
      h(
        'div',
        { class: `explain st-${task.status}`, id: 'explanation' },
        h('span', { class: 'explain-label' }, 'Why'),
        h('span', null, explanationNode(explanation)),
      ),
    );
  }

  const actions = taskActions(task, agents.agents);
  if (actions?.classList.contains('actions-compact')) c.querySelector('.task-head')?.append(actions);
  else if (actions) c.append(actions);

  const lease = task.lease;
  /** @type {([string, Child] | null)[]} */
  const facts = [
    ['Type', h('span', { class: 'type' }, task.type)],
    ['Requires', tags(task.requires)],
    ['Priority', String(task.priority)],
    ['Attempts', `${task.attempts} of ${task.maxAttempts}`],
    [
      'Review',
      task.review
        ? `required · ${task.reviewRounds} of ${task.maxReviewRounds} rounds of changes`
        : 'not required',
    ],
    lease ? ['Held by', [lease.agentName, ' · lease ', time(lease.expiresAt)]] : null,
    task.assignedTo !== null ? ['Assigned to', agentName(task.assignedTo)] : null,
    task.completedBy !== null
      ? [task.status === 'completed' ? 'Completed by' : 'Result by', agentName(task.completedBy)]
      : null,
    task.runAfter > Date.now() && !isFinal(task.status) ? ['Not before', time(task.runAfter)] : null,
    ['Created', [time(task.createdAt), task.createdBy ? ` by ${task.createdBy}` : '']],
    ['Updated', time(task.updatedAt)],
    task.startedAt ? ['Started', time(task.startedAt)] : null,
    task.finishedAt ? ['Finished', time(task.finishedAt)] : null,
    task.idempotencyKey ? ['Idempotency key', h('code', null, task.idempotencyKey)] : null,
  ];

  const left = h('div', { class: 'col-main' });
  const right = h('div', { class: 'col-side' });

  right.append(
    section(
      'Details',
      h(
        'dl',
        { class: 'facts' },
        facts.map((f) => (f ? [h('dt', null, f[0]), h('dd', null, f[1])] : null)),
      ),
    ),
  );

  // The questions, oldest first, with their answers; an open one (the task waits for it) comes first.
  const answerable = canSupervise() && (task.allowedActions ?? []).includes('answer');
  const questionSection =
    questions.length === 0
      ? null
      : h(
          'section',
          { class: 'card', id: 'questions' },
          h('h2', null, `Questions · ${questions.length}`),
          h(
            'div',
            { class: 'q-thread' },
            questions.map((q) => questionCard(q, { inThread: true, canAnswer: answerable })),
          ),
        );
  const waiting = questions.some((q) => q.status === 'open');
  if (questionSection && waiting) left.append(questionSection);

  const progress = progressSection(task, attempts);
  if (progress) left.append(progress);

  // The error and the result are the current ones only in a status they lead to; otherwise they
  // are what an earlier attempt left (a retry, a change request, a failure with attempts left).
  if (task.error) {
    const current = task.status === 'failed';
    const from = current ? null : latest(attempts, (a) => a.error !== null);
    left.append(
      h(
        'section',
        { class: `card${current ? '' : ' earlier'}`, id: 'error' },
        h('h2', null, current ? 'Error' : `Error of ${attemptName(from)}`),
        textBlock(task.error, 'error-text'),
      ),
    );
  }
  if (task.result !== null || task.resultData !== null) {
    const current = task.status === 'completed' || task.status === 'awaiting_review';
    const from = current ? null : latest(attempts, (a) => a.result !== null);
    left.append(
      h(
        'section',
        { class: `card${current ? '' : ' earlier'}`, id: 'result' },
        h('h2', null, current ? 'Result' : `Result of ${attemptName(from)}`),
        task.result !== null ? textBlock(task.result, 'result-text') : null,
        task.resultData !== null ? details('Result data', json(task.resultData), 'result-data', true) : null,
      ),
    );
  }

  left.append(
    section(
      'Specification',
      task.spec ? textBlock(task.spec, 'spec') : empty('No specification text.'),
      task.input !== null ? details('Input', json(task.input), 'input', true) : null,
    ),
  );
  if (questionSection && !waiting) left.append(questionSection);

  if (dependencies.length > 0) {
    left.append(
      section(
        `Depends on · ${dependencies.length}`,
        h(
          'ul',
          { class: 'deps' },
          dependencies.map((d) =>
            h(
              'li',
              null,
              h(
                'div',
                { class: 'dep-line' },
                statusBadge(d.status),
                taskLink(d.taskId),
                ' ',
                h('span', null, d.title),
                d.ref ? h('span', { class: 'ref' }, d.ref) : null,
              ),
              d.result !== null ? details('Result', textBlock(d.result), `dep-${d.taskId}`) : null,
            ),
          ),
        ),
      ),
    );
  }
  if (dependents.length > 0) {
    right.append(
      section(
        `Needed by · ${dependents.length}`,
        h(
          'ul',
          { class: 'plain' },
          dependents.map((did) => h('li', null, taskLink(did), ' ', titles.get(did) ?? '')),
        ),
      ),
    );
  }

  if (attempts.length > 0)
    left.append(section(`Attempts and handoffs · ${attempts.length}`, attemptList(attempts)));

  right.append(section(`Timeline · ${events.length}`, timeline(events)));

  if (Object.keys(task.metadata ?? {}).length > 0) right.append(section('Metadata', json(task.metadata)));

  c.append(h('div', { class: 'task-grid' }, left, right));
}

/**
 * The newest attempt that matches.
 * @param {Attempt[]} attempts
 * @param {(a: Attempt) => boolean} test
 */
function latest(attempts, test) {
  return [...attempts].reverse().find(test) ?? null;
}

/** @param {Attempt | null} a */
function attemptName(a) {
  return a ? `attempt #${a.seq} (${a.outcome.replace(/_/g, ' ')})` : 'an earlier attempt';
}

/**
 * The progress the running attempt reported, as "Progress". Progress an earlier attempt left (the
 * task was released, failed, expired, or finished since) is labelled with that attempt, without
 * the bar: it is not how far the task is now.
 * @param {Task} task
 * @param {Attempt[]} attempts
 */
function progressSection(task, attempts) {
  const p = task.progress;
  if (!(p.note || p.percent !== null || p.checkpoint !== null)) return null;
  const running = task.status === 'in_progress' ? latest(attempts, (a) => a.outcome === 'running') : null;
  const current = running !== null && p.at !== null && p.at >= running.startedAt;
  if (current) {
    return h(
      'section',
      { class: 'card', id: 'progress' },
      h('h2', null, 'Progress'),
      h(
        'div',
        { class: 'progress-line' },
        p.percent !== null ? [progressBar(p.percent), h('span', { class: 'pct' }, `${p.percent}%`)] : null,
        p.at ? h('span', { class: 'muted small' }, time(p.at)) : null,
      ),
      p.note ? textBlock(p.note, 'progress-note') : null,
      p.checkpoint !== null ? details('Checkpoint', json(p.checkpoint), 'checkpoint') : null,
    );
  }
  const at = p.at;
  const from = at === null ? null : latest(attempts, (a) => a.startedAt <= at && a.outcome !== 'running');
  return h(
    'section',
    { class: 'card earlier', id: 'progress' },
    h('h2', null, `Last progress of ${attemptName(from)}`),
    h(
      'p',
      { class: 'muted small earlier-note' },
      running ? 'The running attempt has not reported progress yet. ' : '',
      p.percent !== null ? `It had reported ${p.percent}%` : 'Reported',
      p.at ? [' ', time(p.at)] : null,
      p.checkpoint !== null ? '; its checkpoint is handed to the next attempt.' : '.',
    ),
    p.note ? textBlock(p.note, 'progress-note') : null,
    p.checkpoint !== null ? details('Checkpoint', json(p.checkpoint), 'checkpoint') : null,
  );
}

/** @param {Attempt[]} attempts */
function attemptList(attempts) {
  return h(
    'ol',
    { class: 'attempts' },
    [...attempts]
      .reverse()
      .map((a) =>
        h(
          'li',
          { class: `attempt out-${a.outcome}` },
          h(
            'div',
            { class: 'attempt-head' },
            h('strong', null, `#${a.seq}`),
            ' ',
            h('span', { class: 'agent-name' }, a.agentName),
            ' ',
            h('span', { class: `outcome out-${a.outcome}` }, a.outcome.replace(/_/g, ' ')),
            h(
              'span',
              { class: 'muted small' },
              ' ',
              time(a.startedAt),
              a.endedAt ? [' → ', clock(a.endedAt)] : '',
            ),
          ),
          a.note || a.percent !== null
            ? h(
                'div',
                { class: 'attempt-row' },
                h('span', { class: 'k' }, 'note'),
                h('span', { class: 'v' }, a.percent !== null ? `${a.percent}% ` : '', a.note ?? ''),
              )
            : null,
          a.error
            ? h(
                'div',
                { class: 'attempt-row error-text' },
                h('span', { class: 'k' }, 'error'),
                h('span', { class: 'v' }, a.error),
              )
            : null,
          a.feedback
            ? h(
                'div',
                { class: 'attempt-row feedback' },
                h('span', { class: 'k' }, 'review'),
                h('span', { class: 'v' }, a.feedback),
              )
            : null,
          a.result
            ? h(
                'div',
                { class: 'attempt-row' },
                h('span', { class: 'k' }, 'result'),
                h('span', { class: 'v' }, a.result),
              )
            : null,
          a.checkpoint !== null ? details('Checkpoint', json(a.checkpoint), `att-${a.seq}-cp`) : null,
        ),
      ),
  );
}

/** @param {CnsEvent[]} events */
function timeline(events) {
  if (events.length === 0) return empty('No events.');
  return h(
    'ol',
    { class: 'timeline' },
    [...events]
      .reverse()
      .map((e) =>
        h(
          'li',
          { class: 'tl-item', dataset: { kind: e.kind } },
          h('span', { class: `tl-dot ${e.toStatus ? `st-${e.toStatus}` : 'st-none'}` }),
          h(
            'div',
            { class: 'tl-body' },
            h(
              'div',
              { class: 'tl-head' },
              h('span', { class: 'kind' }, e.kind.replace(/^task\./, '').replace(/_/g, ' ')),
              ' ',
              h('span', { class: 'muted' }, 'by '),
              h('span', { class: 'actor' }, e.actor),
              h('span', { class: 'muted small tl-time' }, clock(e.at)),
            ),
            e.message ? h('div', { class: 'tl-msg' }, e.message) : null,
          ),
        ),
      ),
  );
}

/**
 * The controls a supervisor or admin gets on a task's page: one for each action the server says
 * the task allows now (`task.allowedActions`, from core/status.ts), never worked out here.
 * @param {Task} task
 * @param {Agent[]} agents
 */
function taskActions(task, agents) {
  if (!canSupervise()) return null;
  const allowed = new Set(task.allowedActions ?? []);
  const reviewing = allowed.has('approve') || allowed.has('request_changes');
  const root = h('div', { class: reviewing ? 'actions card' : 'actions-compact' });
  const message = h('span', { class: 'action-msg', role: 'status' });
  const buttons = () => /** @type {NodeListOf<HTMLButtonElement>} */ (root.querySelectorAll('button'));
  /**
   * @param {string} path
   * @param {unknown} body
   */
  const act = async (path, body) => {
    for (const b of buttons()) b.disabled = true;
    message.textContent = '';
    message.className = 'action-msg';
    try {
      await api(`/api/tasks/${task.id}/${path}`, { method: 'POST', body });
      message.textContent = 'Done.';
      for (const input of /** @type {NodeListOf<HTMLInputElement>} */ (root.querySelectorAll('[data-keep]')))
        input.value = '';
      await refresh();
    } catch (err) {
      message.textContent = /** @type {Error} */ (err).message;
      message.className = 'action-msg bad';
      for (const b of buttons()) b.disabled = false;
    }
  };
  /**
   * A quiet button that reveals a field and the button that confirms.
   * @param {string} text
   * @param {string} id
   * @param {HTMLElement} field
   * @param {HTMLElement} confirm
   */
  const revealing = (text, id, field, confirm) => {
    const wrap = h('span', { class: 'revealable', dataset: { revealable: '1' } }, field, confirm);
    const button = h('button', { type: 'button', class: 'btn btn-quiet', id }, text);
    button.addEventListener('click', () => {
      wrap.classList.toggle('revealed');
      if (wrap.classList.contains('revealed')) field.focus();
    });
    return [button, wrap];
  };

  const row = h('div', { class: 'btn-row' });
  if (reviewing) {
    const feedback = h('textarea', {
      id: 'feedback',
      rows: 3,
      placeholder: 'What should change? (required to request changes)',
      dataset: { keep: `feedback-${task.id}` },
    });
    if (allowed.has('approve')) {
      const approve = h('button', { type: 'button', class: 'btn btn-good', id: 'approve' }, 'Approve');
      approve.addEventListener('click', () =>
        act('review', { approve: true, feedback: feedback.value.trim() || undefined }),
      );
      row.append(approve);
    }
    if (allowed.has('request_changes')) {
      const changes = h(
        'button',
        { type: 'button', class: 'btn btn-warn', id: 'request-changes' },
        'Request changes',
      );
      changes.addEventListener('click', () => {
        if (!feedback.value.trim()) {
          message.textContent = 'Say what to change first.';
          message.className = 'action-msg bad';
          feedback.focus();
          return;
        }
        void act('review', { approve: false, feedback: feedback.value.trim() });
      });
      row.append(changes);
    }
    root.append(h('h2', null, 'Review'), feedback);
  }

  // Agents that could take it: of its type, with the capabilities it requires, not deregistered.
  const candidates = (agents ?? []).filter(
    (a) =>
      a.type === task.type &&
      a.deregisteredAt === null &&
      task.requires.every((cap) => a.capabilities.includes(cap)),
  );
  if (allowed.has('assign') && candidates.length > 0) {
    const agent = h(
      'select',
      { id: 'assign-agent', 'aria-label': 'agent', dataset: { keep: `assign-${task.id}` } },
      candidates.map((a) =>
        h('option', { value: a.name, selected: task.assignedTo === a.id }, `${a.name} (${a.status})`),
      ),
    );
    const confirmAssign = h(
      'button',
      { type: 'button', class: 'btn btn-primary', id: 'confirm-assign' },
      'Assign',
    );
    confirmAssign.addEventListener('click', () => act('assign', { agent: agent.value }));
    row.append(...revealing('Assign…', 'assign', agent, confirmAssign));
  }

  if (allowed.has('cancel')) {
    const reason = h('input', {
      type: 'text',
      id: 'cancel-reason',
      placeholder: 'Reason (optional)',
      dataset: { keep: `cancel-${task.id}` },
    });
    const confirmCancel = h(
      'button',
      { type: 'button', class: 'btn btn-bad', id: 'confirm-cancel' },
      'Cancel task',
    );
    confirmCancel.addEventListener('click', () =>
      act('cancel', { reason: reason.value.trim() || undefined }),
    );
    row.append(...revealing('Cancel…', 'cancel', reason, confirmCancel));
  }

  if (allowed.has('retry')) {
    const retry = h('button', { type: 'button', class: 'btn btn-primary', id: 'retry' }, 'Retry');
    retry.addEventListener('click', () => act('retry', {}));
    row.append(retry, h('span', { class: 'muted small' }, 'starts a new attempt (recorded)'));
  }

  if (row.childElementCount === 0) return null;
  row.append(message);
  root.append(row);
  return root;
}
