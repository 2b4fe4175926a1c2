// @ts-check
// The inbox (`#/questions`) and one question (`#/questions/7`): what agents asked, answered here.

import { api, statusOf } from '../api.js';
import { h } from '../dom.js';
import { query } from '../format.js';
import { scheduleInboxCount } from '../live.js';
import { refresh } from '../router.js';
import { QUESTION_STATUSES, canSupervise, loadTaskInfo, rememberTasks, state } from '../state.js';
import {
  details,
  empty,
  errorBox,
  json,
  questionLink,
  section,
  taskLink,
  time,
  workflowLink,
} from '../widgets.js';

/** @typedef {import('../../../core/types.js').Question} Question */
/** @typedef {import('../../../core/types.js').QuestionStatus} QuestionStatus */
/** @typedef {import('../../../core/types.js').Task} Task */
/** @typedef {import('../../../core/types.js').Workflow} Workflow */

/**
 * The inbox: the questions agents asked (their tasks wait in waiting_input), newest first. Open ones
 * by default; `?status=open,answered,closed`, `?for=` and `?workflow=` filter. A question answered
 * (or tried) here stays in view under "Just answered", with who answered it.
 * @param {HTMLElement} c
 * @param {URLSearchParams} params
 */
export async function renderInbox(c, params) {
  const asked = /** @type {QuestionStatus[]} */ (
    (params.get('status') ?? '')
      .split(',')
      .filter((s) => /** @type {readonly string[]} */ (QUESTION_STATUSES).includes(s))
  );
  /** @type {QuestionStatus[]} */
  const selected = asked.length > 0 ? asked : ['open'];
  const forWhom = params.get('for') ?? '';
  const workflow = params.get('workflow') ?? '';
  /** @type {[{ questions: Question[] }, { items: Task[] }, { items: Workflow[] }]} */
  const [{ questions }, waiting, workflows] = await Promise.all([
    api(`/api/questions${query({ status: selected, for: forWhom, workflow, limit: 200 })}`),
    api(`/api/tasks${query({ status: ['waiting_input'], limit: 500 })}`),
    api(`/api/workflows${query({ limit: 500 })}`),
  ]);
  rememberTasks(waiting.items);
  const listed = new Set(questions.map((q) => q.id));
  /** @type {(Question | null)[]} */
  const recent = await Promise.all(
    [...state.answering.keys()]
      .filter((id) => !listed.has(id))
      .sort((a, b) => b - a)
      .map((id) =>
        api(`/api/questions/${id}`).then(
          (/** @type {{ question: Question }} */ r) => r.question,
          () => null,
        ),
      ),
  );
  const answered = /** @type {Question[]} */ (recent.filter(Boolean));
  await loadTaskInfo([...questions, ...answered].map((q) => q.taskId));
  const workflowNames = new Map(workflows.items.map((w) => [w.id, w.name]));

  /** @param {Record<string, string | string[]>} changes */
  const setParams = (changes) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v === '' || v === null || (Array.isArray(v) && v.length === 0)) next.delete(k);
      else next.set(k, Array.isArray(v) ? v.join(',') : v);
    }
    const s = next.toString();
    return `#/questions${s ? `?${s}` : ''}`;
  };
  const onlyOpen = selected.length === 1 && selected[0] === 'open';
  const all = QUESTION_STATUSES.every((s) => selected.includes(s));

  c.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, 'Inbox'),
      h(
        'span',
        { class: 'muted', id: 'inbox-summary' },
        !onlyOpen
          ? `${questions.length} question${questions.length === 1 ? '' : 's'}`
          : questions.length === 0
            ? 'nothing waits for an answer'
            : `${questions.length} open question${questions.length === 1 ? '' : 's'} · each task waits for its answer`,
      ),
    ),
  );

  /** @type {[string, string][]} */
  const filters = [];
  if (forWhom) filters.push(['for', `for: ${forWhom}`]);
  if (workflow)
    filters.push(['workflow', `workflow: ${workflowNames.get(Number(workflow)) ?? `#${workflow}`}`]);
  c.append(
    h(
      'div',
      { class: 'chips', role: 'group', 'aria-label': 'filter by status' },
      QUESTION_STATUSES.map((s) => {
        const on = selected.includes(s);
        const next = on ? selected.filter((x) => x !== s) : [...selected, s];
        return h(
          'a',
          {
            class: `chip q-st-${s}${on ? ' on' : ''}`,
            href: setParams({ status: next.length === 1 && next[0] === 'open' ? [] : next }),
            dataset: { status: s },
          },
          h('span', { class: 'dot' }),
          s,
        );
      }),
      h(
        'a',
        {
          class: `chip${all ? ' on' : ''}`,
          href: setParams({ status: [...QUESTION_STATUSES] }),
          id: 'show-all',
        },
        'all',
      ),
      filters.map(([k, text]) =>
        h(
          'a',
          { class: 'chip on removable', href: setParams({ [k]: '' }), title: 'remove this filter' },
          text,
          ' ×',
        ),
      ),
    ),
  );

  /** @param {Question} q */
  const card = (q) =>
    questionCard(q, {
      task: state.taskInfo.get(q.taskId) ?? null,
      workflowName: q.workflowId !== null ? (workflowNames.get(q.workflowId) ?? null) : null,
      canAnswer: canSupervise(),
    });
  c.append(
    questions.length === 0
      ? section(
          onlyOpen ? 'Nothing to answer' : 'No questions',
          empty(
            onlyOpen
              ? 'No open questions. When an agent asks one, it appears here at once.'
              : 'No question matches these filters.',
          ),
        )
      : h('div', { class: 'q-list', id: 'question-list' }, questions.map(card)),
  );
  if (answered.length > 0) {
    c.append(
      h(
        'section',
        { class: 'q-recent' },
        h('h2', null, 'Just answered'),
        h('div', { class: 'q-list', id: 'answered-list' }, answered.map(card)),
      ),
    );
  }
}

/**
 * One question on its own page (`#/questions/7`): a link to send someone.
 * @param {HTMLElement} c
 * @param {number} id
 */
export async function renderQuestion(c, id) {
  /** @type {[{ question: Question }, { items: Workflow[] }]} */
  const [{ question }, workflows] = await Promise.all([
    api(`/api/questions/${id}`),
    api(`/api/workflows${query({ limit: 500 })}`),
  ]);
  await loadTaskInfo([question.taskId]);
  const wf = workflows.items.find((w) => w.id === question.workflowId);
  c.append(
    h('nav', { class: 'crumbs' }, h('a', { href: '#/questions' }, 'Inbox'), ` / question #${question.id}`),
    h('div', { class: 'q-list', id: 'question-list' }, [
      questionCard(question, {
        task: state.taskInfo.get(question.taskId) ?? null,
        workflowName: wf?.name ?? null,
        canAnswer: canSupervise(),
      }),
    ]),
  );
}

/**
 * A question: what was asked, by whom, for whom, about which task, the context the agent gave and
 * — for a supervisor or admin, while it is open — the answer controls: one button per choice (a
 * click answers with it) and a free-text answer. `inThread`: inside the task's page (no task line).
 * @param {Question} q
 * @param {{ task?: { title: string } | null, workflowName?: string | null, canAnswer?: boolean, inThread?: boolean }} [options]
 */
export function questionCard(
  q,
  { task = null, workflowName = null, canAnswer = false, inThread = false } = {},
) {
  const note = state.answering.get(q.id);
  const card = h('article', {
    class: `question q-${q.status}${inThread ? '' : ' card'}`,
    id: `question-${q.id}`,
    dataset: { question: q.id, status: q.status },
  });
  const forLink = h(
    'a',
    { href: `#/questions${query({ for: q.for })}`, class: 'q-for-name', title: `questions for ${q.for}` },
    q.for,
  );
  card.append(
    h(
      'div',
      { class: 'q-head' },
      h('span', { class: `badge q-st-${q.status}` }, q.status),
      h('span', { class: 'q-for' }, 'for ', forLink),
      h(
        'span',
        { class: 'q-asked muted' },
        'asked by ',
        h('strong', { class: 'q-asker' }, q.askedBy.name),
        ' ',
        time(q.askedAt),
        inThread ? ` · attempt #${q.attemptSeq}` : '',
      ),
      questionLink(q.id, `#${q.id}`),
    ),
  );
  if (!inThread) {
    card.append(
      h(
        'div',
        { class: 'q-task' },
        h('span', { class: 'muted' }, 'task '),
        taskLink(q.taskId),
        ' ',
        h('a', { href: `#/tasks/${Number(q.taskId)}`, class: 'task-title q-task-title' }, task?.title ?? ''),
        q.workflowId !== null
          ? [h('span', { class: 'muted' }, ' · '), workflowLink(q.workflowId, workflowName ?? undefined)]
          : null,
      ),
    );
  }
  card.append(h('p', { class: 'q-text' }, q.text));
  if (q.context !== null && q.context !== undefined) {
    // Collapsible; open at first unless it is long.
    const text = JSON.stringify(q.context, null, 2);
    const long = text.length > 600 || text.split('\n').length > 14;
    const box = details('Context', json(q.context), `q-${q.id}-context`, !long);
    box.classList.add('q-context');
    card.append(box);
  }
  if (q.status === 'open' && q.choices?.length && !canAnswer) {
    card.append(
      h(
        'div',
        { class: 'q-choices read-only' },
        h('span', { class: 'muted small' }, 'choices: '),
        q.choices.map((choice) => h('span', { class: 'tag q-choice-tag' }, choice)),
      ),
    );
  }
  if (q.status === 'open' && canAnswer) card.append(answerControls(q, card));
  else if (q.status === 'open') {
    card.append(h('p', { class: 'muted small q-readonly' }, 'A supervisor or admin answers it.'));
  }
  if (q.status === 'answered') {
    card.append(
      h(
        'div',
        { class: 'q-answer' },
        h(
          'div',
          { class: 'q-answer-head' },
          h('span', { class: 'q-label' }, 'Answer'),
          ' by ',
          h('strong', { class: 'q-answered-by' }, q.answeredBy?.name ?? 'someone'),
          ' ',
          time(q.answeredAt),
        ),
        h('pre', { class: 'block text q-answer-text' }, q.answer ?? ''),
      ),
    );
  }
  if (q.status === 'closed') {
    card.append(
      h(
        'p',
        { class: 'q-closed muted' },
        'Closed without an answer',
        q.closedReason ? `: ${q.closedReason}` : '',
      ),
    );
  }
  if (note?.error) {
    const box = errorBox(note.error);
    box.classList.add('q-error');
    card.append(box);
  }
  return card;
}

/**
 * The choices (one click answers) and the free-text answer of an open question.
 * @param {Question} q
 * @param {HTMLElement} card
 */
function answerControls(q, card) {
  const message = h('span', { class: 'action-msg', role: 'status' });
  const input = h('textarea', {
    class: 'q-input',
    rows: 2,
    placeholder: q.choices?.length ? 'Or write another answer…' : 'Write an answer…',
    'aria-label': `answer to question ${q.id}`,
    dataset: { keep: `answer-${q.id}` },
  });
  /** @param {string} answer */
  const send = async (answer) => {
    for (const el of /** @type {NodeListOf<HTMLButtonElement>} */ (card.querySelectorAll('button, textarea')))
      el.disabled = true;
    message.textContent = 'Sending…';
    message.className = 'action-msg';
    try {
      await api(`/api/questions/${q.id}/answer`, { method: 'POST', body: { answer } });
      state.answering.set(q.id, { error: null });
      input.value = '';
    } catch (err) {
      if (statusOf(err) === 401) return;
      const e = /** @type {{ code: string, message: string }} */ (err);
      // Kept (shown in the card) across the re-render: a refusal must not vanish with it.
      state.answering.set(q.id, { error: { code: e.code, message: e.message } });
    }
    scheduleInboxCount(0);
    await refresh();
  };
  const submit = h('button', { type: 'button', class: 'btn btn-primary q-submit' }, 'Answer');
  submit.addEventListener('click', () => {
    const text = input.value.trim();
    if (!text) {
      message.textContent = 'Write an answer first.';
      message.className = 'action-msg bad';
      input.focus();
      return;
    }
    void send(text);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      submit.click();
    }
  });
  return h(
    'div',
    { class: 'q-controls' },
    q.choices?.length
      ? h(
          'div',
          { class: 'q-choices', role: 'group', 'aria-label': 'answer with one of the choices' },
          q.choices.map((choice) =>
            h(
              'button',
              {
                type: 'button',
                class: 'btn q-choice',
                dataset: { choice },
                title: 'answer with this choice',
                onclick: () => void send(choice),
              },
              choice,
            ),
          ),
        )
      : null,
    h('div', { class: 'q-compose' }, input, h('div', { class: 'q-send' }, submit, message)),
  );
}
