import { describe, expect, it } from 'vitest';
import { IMAGE_REF_PATTERN, validateRegistrationFields } from '../../src/contract/limits.js';
import { dockerTaskQueue, parseSnapshotWorkflowId, snapshotWorkflowId } from '../../src/contract/names.js';

describe('names', () => {
  it('workflow ids URI-encode their parts and parse back', () => {
    const id = snapshotWorkflowId('team/a:b', 'item 1');
    expect(id).toBe('snapshot:team%2Fa%3Ab:item%201');
    expect(parseSnapshotWorkflowId(id)).toEqual({ projectId: 'team/a:b', workItemId: 'item 1' });
    expect(parseSnapshotWorkflowId('other:x')).toBeUndefined();
  });

  it('docker task queues are per host', () => {
    expect(dockerTaskQueue('h1')).toBe('snapkeeper-docker-h1');
  });

  it('image references are validated', () => {
    for (const ok of [
      'busybox',
      'snap/p1:w1',
      'localhost:5000/a/b:c',
      `sha256:${'a'.repeat(64)}`,
      `a@sha256:${'b'.repeat(64)}`,
    ])
      expect(IMAGE_REF_PATTERN.test(ok), ok).toBe(true);
    for (const bad of ['', 'UPPER/case', 'a b', 'a:', '../x', 'a:b:c:d'])
      expect(IMAGE_REF_PATTERN.test(bad), bad).toBe(false);
  });

  it('registration fields get a readable error', () => {
    expect(validateRegistrationFields({ image: 'a:1', host: 'h' })).toBeUndefined();
    expect(validateRegistrationFields({ image: 'a:1', host: 'h', ttlSeconds: 0 })).toMatch(/ttlSeconds/);
    expect(validateRegistrationFields({ image: 'a:1', host: 'h!' })).toMatch(/host/);
    expect(
      validateRegistrationFields({ image: 'a:1', host: 'h', pullRequest: { repository: 'x', number: 1 } }),
    ).toMatch(/owner\/name/);
  });
});
