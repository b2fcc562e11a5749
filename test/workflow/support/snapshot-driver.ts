// Drives snapshot workflows from outside, the way the service does: start by id, then the
// register update; everything else through the message constants of the contract module.
import type { WorkflowHandle } from '@temporalio/client';
import { snapshotWorkflowId, WORKFLOW_TASK_QUEUE } from '../../../src/shared/names.js';
import type { RegisterRequest, RegisterResult, SnapshotWorkflowView } from '../../../src/shared/types.js';
import { registerUpdate, stateQuery } from '../../../src/workflows/messages.js';
import type { snapshotWorkflow, SnapshotWorkflowOptions } from '../../../src/workflows/snapshot-workflow.js';
import type { SpecEnvironment, SpecHost } from './spec-environment.js';

export type SnapshotHandle = WorkflowHandle<typeof snapshotWorkflow>;

export const PROJECT = 'spec-project';
export const DAY_MS = 24 * 3600 * 1000;
export const HOUR_MS = 3600 * 1000;

export interface Registration extends Omit<RegisterRequest, 'host'> {
  host?: SpecHost;
}

let sequence = 0;

/** A work item id no other test of the file uses. */
export function newWorkItem(label: string): string {
  sequence += 1;
  return `${label}-${sequence}`;
}

export class SnapshotDriver {
  constructor(private readonly spec: SpecEnvironment) {}

  /** Starts the work item's workflow as the service does (by its id), without registering yet. */
  async start(workItemId: string, options?: SnapshotWorkflowOptions): Promise<SnapshotHandle> {
    return await this.spec.client.workflow.start<typeof snapshotWorkflow>('snapshotWorkflow', {
      taskQueue: WORKFLOW_TASK_QUEUE,
      workflowId: snapshotWorkflowId(PROJECT, workItemId),
      args: [{ projectId: PROJECT, workItemId, ...(options ? { options } : {}) }],
    });
  }

  async register(handle: SnapshotHandle, registration: Registration): Promise<RegisterResult> {
    return await handle.executeUpdate(registerUpdate, {
      args: [{ ...registration, host: registration.host ?? 'build-1' }],
    });
  }

  /** Starts a work item and registers its first image. */
  async startWith(
    workItemId: string,
    registration: Registration,
    options?: SnapshotWorkflowOptions,
  ): Promise<{ handle: SnapshotHandle; registered: RegisterResult }> {
    const handle = await this.start(workItemId, options);
    return { handle, registered: await this.register(handle, registration) };
  }

  async state(handle: SnapshotHandle): Promise<SnapshotWorkflowView> {
    return await handle.query(stateQuery);
  }
}
