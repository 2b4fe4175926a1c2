/**
 * The chaos run's task mix, shared by every agent kind: what a task asks its agent to do on its
 * first try. Most tasks are plain work; some need review (the supervisor requests changes once on
 * half of them), some fail once, some ask a question (the supervisor answers), and a few are fencing
 * probes: the agent freezes past its lease and then completes late with the lost token.
 */
export interface ChaosInput {
  /** Fail (retryable) on the first attempt. */
  failOnce?: boolean;
  /** Ask a question before doing the work. */
  ask?: boolean;
  /** Freeze past the lease on the first attempt, then complete late (must be refused). */
  stall?: boolean;
  /** Review: the supervisor requests changes on the first round. */
  changesOnce?: boolean;
}

export interface ChaosTaskSpec {
  title: string;
  review: boolean;
  input: ChaosInput;
}

/** Task i of a run: a fixed mix, so every run of a given size does the same kinds of work. */
export function chaosTask(i: number): ChaosTaskSpec {
  const m = i % 40;
  const input: ChaosInput = {};
  let review = false;
  if (m % 10 === 3) {
    review = true;
    if (m % 20 === 3) input.changesOnce = true;
  } else if (m % 10 === 5) input.failOnce = true;
  else if (m % 10 === 7) input.ask = true;
  else if (m === 19 || m === 39) input.stall = true;
  return { title: `chaos ${i}`, review, input };
}

/** What the agent does on this claim: the task's special behaviour on its first try, else work. */
export function firstTry(
  input: ChaosInput,
  handoff: readonly { outcome: string }[],
  questions: number,
): 'stall' | 'fail' | 'ask' | 'work' {
  const earlier = handoff.filter((a) => a.outcome !== 'running');
  if (input.stall && earlier.length === 0) return 'stall';
  if (input.failOnce && !earlier.some((a) => a.outcome === 'failed')) return 'fail';
  if (input.ask && questions === 0) return 'ask';
  return 'work';
}
