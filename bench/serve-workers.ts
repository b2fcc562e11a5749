// The bench's worker processes (B2's timer worker, B3's no-op worker, B5's scale worker) run their
// workers until SIGTERM or SIGINT, and print one JSON ready line the bench waits for.
import type { NativeConnection, Worker } from '@temporalio/worker';

export async function serveWorkers(
  connection: NativeConnection,
  workers: Worker[],
  ready: Record<string, unknown>,
): Promise<void> {
  const stop = () => {
    for (const w of workers) w.shutdown();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const running = Promise.all(workers.map((w) => w.run()));
  console.log(JSON.stringify(ready));
  await running;
  await connection.close();
}
