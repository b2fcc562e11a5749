// The compose stack's init step (deploy/create-search-attributes.sh, run by the admin-tools image)
// against the run's real server, with the pinned temporal CLI: it must make a usable namespace
// with snapkeeper's search attributes, and a second run must change nothing.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { repoPath } from '../../scripts/lib/repo-root.js';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/contract/search-attributes.js';
import { testEnv } from '../support/test-env.js';

const exec = promisify(execFile);

describe('deploy/create-search-attributes.sh', () => {
  it('creates the namespace with every search attribute, and is idempotent', async () => {
    const env = testEnv();
    const namespace = `deploy-${randomBytes(4).toString('hex')}`;
    const run = () =>
      exec('sh', [repoPath('deploy', 'create-search-attributes.sh')], {
        timeout: 120_000,
        env: {
          PATH: process.env.PATH,
          // The CLI insists on a config directory, even with nothing in it.
          HOME: process.env.HOME,
          TEMPORAL_CLI: env.temporalCliPath,
          TEMPORAL_ADDRESS: env.temporalAddress,
          TEMPORAL_NAMESPACE: namespace,
          SNAPKEEPER_SEARCH_ATTRIBUTES: Object.entries(SEARCH_ATTRIBUTE_TYPES)
            .map(([name, type]) => `${name}=${type}`)
            .join(' '),
        },
      });
    const first = await run();
    expect(first.stdout).toContain(`namespace ${namespace} created`);
    for (const name of Object.keys(SEARCH_ATTRIBUTE_TYPES)) expect(first.stdout).toContain(`${name} (`);

    // The server may accept adding an attribute it has (PostgreSQL) or refuse it (SQLite): both fine.
    const second = await run();
    expect(second.stdout).not.toContain('created');
    for (const name of Object.keys(SEARCH_ATTRIBUTE_TYPES))
      expect(second.stdout).toMatch(new RegExp(`${name} (\\(\\w+\\) registered|already exists)`));

    const connection = await Connection.connect({ address: env.temporalAddress });
    try {
      const listed = await connection.operatorService.listSearchAttributes({ namespace });
      expect(Object.keys(listed.customAttributes ?? {})).toEqual(
        expect.arrayContaining(Object.keys(SEARCH_ATTRIBUTE_TYPES)),
      );
      const described = await connection.workflowService.describeNamespace({ namespace });
      expect(Number(described.config?.workflowExecutionRetentionTtl?.seconds)).toBe(7 * 24 * 3600);
    } finally {
      await connection.close();
    }
  });
});
