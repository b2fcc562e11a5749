// Small deterministic helpers shared by the snapshot and budget workflows: the workflow clock as
// ISO text, when to continue as new, and a serial lane for handlers that await.
import { workflowInfo } from '@temporalio/workflow';

/** The workflow clock (the time of the current workflow task), as ISO text. */
export function nowIso(): string {
  return new Date(Date.now()).toISOString();
}

export function plusSeconds(iso: string, seconds: number): string {
  return new Date(Date.parse(iso) + seconds * 1000).toISOString();
}

/** When the server suggests it, or once the history holds `afterEvents` events. */
export function continueAsNewDue(afterEvents: number): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength >= afterEvents;
}

/**
 * Runs async steps one after the other, in the order they were asked for: two handlers that each
 * await an activity must not both act on what they saw before. `busy` counts the steps not done.
 */
export class SerialLane {
  busy = 0;
  private chain: Promise<unknown> = Promise.resolve();

  run<T>(step: () => Promise<T>): Promise<T> {
    this.busy++;
    const run = this.chain.then(step);
    // Counted down beside the returned promise, not in front of it, so a caller resumes exactly
    // when the step settles, as in histories recorded before this lane existed.
    const done = () => {
      this.busy--;
    };
    run.then(done, done);
    this.chain = run.catch(() => undefined);
    return run;
  }
}
