// Drives snapshot workflows from outside, the way the service does: start by id, then the
// register update; everything else through the message constants of the contract module.
import type { WorkflowHandle } from '@temporalio/client';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { snapshotWorkflowId, WORKFLOW_TASK_QUEUE } from '../../../src/contract/names.js';
import type {
  RegisterRequest,
  RegisterResult,
  SnapshotWorkflowView,
} from '../../../src/contract/snapshot-types.js';
import { registerUpdate, stateQuery } from '../../../src/contract/messages.js';
import type { snapshotWorkflow, SnapshotWorkflowOptions } from '../../../src/workflows/snapshot/workflow.js';
import { waitFor } from '../../support/wait-for.js';
import type { SpecEnvironment } from './spec-environment.js';

/** Not bound to a run: after a continue-as-new it reaches the newest run, as the service's handles do. */
export type SnapshotHandle = WorkflowHandle<typeof snapshotWorkflow>;

export const PROJECT = 'spec-project';
export const DAY_MS = 24 * 3600 * 1000;
export const HOUR_MS = 3600 * 1000;

export interface Registration extends Omit<RegisterRequest, 'host'> {
  /** build-1 unless given. */
  host?: string;
}

let sequence = 0;

/** A work item id no other test of the file uses. */
export function newWorkItem(label: string): string {
  sequence += 1;
  return `${label}-${sequence}`;
}

export class SnapshotDriver {
  constructor(private readonly spec: SpecEnvironment) {}

  handle(workItemId: string): SnapshotHandle {
    return this.spec.client.workflow.getHandle<typeof snapshotWorkflow>(
      snapshotWorkflowId(PROJECT, workItemId),
    );
  }

  async register(handle: SnapshotHandle, registration: Registration): Promise<RegisterResult> {
    return await handle.executeUpdate(registerUpdate, {
      args: [{ ...registration, host: registration.host ?? 'build-1' }],
    });
  }

  /**
   * Starts a work item with its first image, as the service does: update-with-start, so the
   * registration arrives with the first workflow task (a snapshot workflow holding nothing ends).
   * Only with registrations the workflow accepts: the Java test server 1.31.0 fails with a
   * NullPointerException on an update-with-start whose update is rejected.
   */
  async startWith(
    workItemId: string,
    registration: Registration,
    options?: SnapshotWorkflowOptions,
  ): Promise<{ handle: SnapshotHandle; registered: RegisterResult }> {
    const startWorkflowOperation = new WithStartWorkflowOperation<typeof snapshotWorkflow>(
      'snapshotWorkflow',
      {
        workflowId: snapshotWorkflowId(PROJECT, workItemId),
        taskQueue: WORKFLOW_TASK_QUEUE,
        args: [{ projectId: PROJECT, workItemId, ...(options ? { options } : {}) }],
        workflowIdConflictPolicy: 'USE_EXISTING',
      },
    );
    const registered = await this.spec.client.workflow.executeUpdateWithStart(registerUpdate, {
      args: [{ ...registration, host: registration.host ?? 'build-1' }],
      startWorkflowOperation,
    });
    return { handle: this.handle(workItemId), registered };
  }

  async state(handle: SnapshotHandle): Promise<SnapshotWorkflowView> {
    return await handle.query(stateQuery);
  }

  /** Polls the state query until `accept` holds (activities and timers run in real time here). */
  async until(
    handle: SnapshotHandle,
    what: string,
    accept: (view: SnapshotWorkflowView) => boolean,
  ): Promise<SnapshotWorkflowView> {
    return await waitFor(
      async () => {
        const view = await this.state(handle);
        return accept(view) ? view : undefined;
      },
      { timeoutMs: 20_000, message: what },
    );
  }
}
