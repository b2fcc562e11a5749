// The trivial workflow of B3's baseline: what an update-with-start costs on this server with a
// workflow task and an update but no work of snapkeeper's.
import { condition, defineSignal, defineUpdate, setHandler } from '@temporalio/workflow';

export const NOOP_TASK_QUEUE = 'bench-noop';
export const noopUpdate = defineUpdate<void>('noop');
export const finishSignal = defineSignal('finish');

export async function benchNoopWorkflow(): Promise<void> {
  let finished = false;
  setHandler(noopUpdate, () => undefined);
  setHandler(finishSignal, () => {
    finished = true;
  });
  await condition(() => finished);
}
