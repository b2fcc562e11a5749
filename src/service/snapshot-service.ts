import type { Client, WorkflowHandle } from '@temporalio/client';
import { WithStartWorkflowOperation, WorkflowNotFoundError } from '@temporalio/client';
import { ErrorType } from '../shared/errors.js';
import { WORKFLOW_TASK_QUEUE, snapshotWorkflowId } from '../shared/names.js';
import { SA } from '../shared/search-attribute-keys.js';
import type {
  MergedSignal,
  PullRequestRef,
  RegisterRequest,
  RegisterResult,
  SnapshotState,
  SnapshotWorkflowView,
} from '../shared/types.js';
import {
  invalidateSignal,
  linkPullRequestUpdate,
  mergedSignal,
  registerUpdate,
  stateQuery,
  touchUpdate,
} from '../workflows/messages.js';
import type { SnapshotWorkflowOptions, snapshotWorkflow } from '../workflows/snapshot-workflow.js';
import { SnapshotError, fromUpdateFailure } from './snapshot-error.js';

export interface SnapshotServiceDeps {
  client: Client;
  defaultTtlSeconds: number;
  /** Passed to new workflows; tests shorten backoffs and history limits with it. */
  workflowOptions?: SnapshotWorkflowOptions;
}

export interface RegisterInput extends RegisterRequest {
  projectId: string;
  workItemId: string;
}

type SnapshotHandle = WorkflowHandle<typeof snapshotWorkflow>;

// An update can reach a run that is completing (its last image just left); the next
// update-with-start then starts a fresh run, so a few tries settle it.
const REGISTER_ATTEMPTS = 3;

/**
 * Everything the API (and the tests, and operators' scripts) do to snapshot workflows, through
 * the Temporal client only: no Docker access, no state of its own, so any number can run.
 */
export function createSnapshotService({ client, defaultTtlSeconds, workflowOptions }: SnapshotServiceDeps) {
  const handle = (projectId: string, workItemId: string): SnapshotHandle =>
    client.workflow.getHandle<typeof snapshotWorkflow>(snapshotWorkflowId(projectId, workItemId));

  async function register(input: RegisterInput): Promise<RegisterResult> {
    const { projectId, workItemId, ...rest } = input;
    const request: RegisterRequest = { ...rest, ttlSeconds: rest.ttlSeconds ?? defaultTtlSeconds };
    for (let attempt = 1; ; attempt++) {
      const startWorkflowOperation = new WithStartWorkflowOperation<typeof snapshotWorkflow>(
        'snapshotWorkflow',
        {
          workflowId: snapshotWorkflowId(projectId, workItemId),
          taskQueue: WORKFLOW_TASK_QUEUE,
          args: [{ projectId, workItemId, ...(workflowOptions ? { options: workflowOptions } : {}) }],
          workflowIdConflictPolicy: 'USE_EXISTING',
          staticSummary: `Snapshot of work item ${workItemId} in project ${projectId}`,
          staticDetails:
            `Owns the Docker snapshot images of work item \`${workItemId}\` (project \`${projectId}\`). ` +
            'Each image is removed after its pull request merges, its TTL, an invalidation, an eviction, a replacement or a cancel.',
          typedSearchAttributes: [
            { key: SA.projectId, value: projectId },
            { key: SA.workItemId, value: workItemId },
          ],
        },
      );
      try {
        return await client.workflow.executeUpdateWithStart(registerUpdate, {
          args: [request],
          startWorkflowOperation,
        });
      } catch (err) {
        const refusal = fromUpdateFailure(err);
        if (refusal) throw refusal;
        if (attempt >= REGISTER_ATTEMPTS || !isCompletedBeforeUpdate(err)) throw err;
      }
    }
  }

  /** The reuse lookup: the active image, refreshing its last use (and its TTL when it slides). */
  async function lookup(projectId: string, workItemId: string): Promise<SnapshotState | null> {
    try {
      return await handle(projectId, workItemId).executeUpdate(touchUpdate, { args: [{}] });
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async function view(projectId: string, workItemId: string): Promise<SnapshotWorkflowView | null> {
    try {
      return await handle(projectId, workItemId).query(stateQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    }
  }

  /** false when the work item has no open workflow. */
  async function invalidate(
    projectId: string,
    workItemId: string,
    reason: string,
    occurredAt?: string,
  ): Promise<boolean> {
    return signalOpen(() =>
      handle(projectId, workItemId).signal(invalidateSignal, {
        reason,
        ...(occurredAt ? { occurredAt } : {}),
      }),
    );
  }

  async function merged(projectId: string, workItemId: string, signal: MergedSignal): Promise<boolean> {
    return signalOpen(() => handle(projectId, workItemId).signal(mergedSignal, signal));
  }

  async function linkPullRequest(
    projectId: string,
    workItemId: string,
    pullRequest: PullRequestRef,
  ): Promise<SnapshotState | null> {
    try {
      return await handle(projectId, workItemId).executeUpdate(linkPullRequestUpdate, {
        args: [pullRequest],
      });
    } catch (err) {
      if (isMissing(err)) return null;
      const refusal = fromUpdateFailure(err);
      if (refusal) throw refusal;
      throw err;
    }
  }

  return { register, lookup, view, invalidate, merged, linkPullRequest, handle };
}

export type SnapshotService = ReturnType<typeof createSnapshotService>;

async function signalOpen(send: () => Promise<void>): Promise<boolean> {
  try {
    await send();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

function isMissing(err: unknown): boolean {
  if (err instanceof WorkflowNotFoundError) return true;
  const refusal = fromUpdateFailure(err);
  return refusal?.type === ErrorType.snapshotNotFound;
}

function isCompletedBeforeUpdate(err: unknown): boolean {
  // The server answers NOT_FOUND ("workflow execution already completed") when the run closed
  // between accepting the start and delivering the update.
  return err instanceof WorkflowNotFoundError || (err as { code?: number } | null)?.code === 5;
}

export { SnapshotError };
