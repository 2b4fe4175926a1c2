/** Runs `concurrency` async worker loops until each finds no more work; collects what they did. */
export async function runLoops(
  concurrency: number,
  step: (worker: number) => Promise<number | string | null>,
): Promise<(number | string)[]> {
  const done: (number | string)[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (;;) {
        const id = await step(w);
        if (id === null) return;
        done.push(id);
      }
    }),
  );
  return done;
}

/** Resolves when `check` returns true, polling every `everyMs`; rejects after `timeoutMs`. */
export async function until(
  check: () => boolean,
  timeoutMs: number,
  what: string,
  everyMs = 5,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
