/**
 * A test's steps under one deadline shorter than the test's own timeout: a step that overruns
 * fails with the time every step took, where vitest's bare timeout would say only that the test
 * ran out of time (a CI log keeps little more than the failure).
 */
export interface StepTimeline {
  step<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

export function stepTimeline(deadlineMs: number): StepTimeline {
  const started = Date.now();
  const done: string[] = [];
  return {
    async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
      const stepStarted = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const overrun = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `step "${name}" still running ${deadlineMs} ms into the test; before it: ${done.join(', ') || 'nothing'}`,
              ),
            ),
          Math.max(0, started + deadlineMs - stepStarted),
        );
      });
      try {
        return await Promise.race([fn(), overrun]);
      } finally {
        clearTimeout(timer);
        done.push(`${name} ${Date.now() - stepStarted} ms`);
      }
    },
  };
}
