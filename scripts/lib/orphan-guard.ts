import { spawn } from 'node:child_process';

// Runs detached, so neither a terminal's Ctrl-C nor the owner's death takes it down with the owner.
// The child's start time (field 22 of /proc/PID/stat) tells a recycled pid from the child itself.
const GUARD_SCRIPT = `
owner="$1"; child="$2"
started() { cut -d' ' -f22 "/proc/$child/stat" 2>/dev/null; }
start="$(started)"; [ -n "$start" ] || exit 0
same() { [ "$(started)" = "$start" ]; }
while kill -0 "$owner" 2>/dev/null; do same || exit 0; sleep 2; done
same && kill -TERM "$child"
for _ in $(seq 1 50); do same || exit 0; sleep 0.2; done
same && kill -KILL "$child"
`;

/**
 * Ends `childPid` (SIGTERM, then SIGKILL after 10 s) once `ownerPid` is gone, so that a test run or
 * `npm run dev` killed with SIGKILL does not leave a Temporal server or a worker running. Returns
 * a function that retires the guard once the child was stopped the normal way.
 */
export function guardAgainstOrphaning(childPid: number, ownerPid: number = process.pid): () => void {
  const guard = spawn('bash', ['-c', GUARD_SCRIPT, 'orphan-guard', String(ownerPid), String(childPid)], {
    detached: true,
    stdio: 'ignore',
  });
  guard.on('error', () => undefined);
  guard.unref();
  return () => {
    if (guard.pid === undefined || guard.exitCode !== null) return;
    try {
      process.kill(guard.pid, 'SIGTERM');
    } catch {
      // already gone: it exits by itself once the child is gone
    }
  };
}
