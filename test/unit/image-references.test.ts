import { describe, expect, it } from 'vitest';
import type { ReferenceFacts } from '../../src/contract/image-references.js';
import {
  attributeReferences,
  canonicalTag,
  commitComment,
  referenceKind,
  referencesAtRegistration,
} from '../../src/contract/image-references.js';
import {
  LABEL_COMMIT,
  LABEL_REFERENCE,
  heldTag,
  keptTag,
  managedLabels,
  reapingTag,
} from '../../src/contract/names.js';

const ID = `sha256:${'a'.repeat(64)}`;
const OTHER = `sha256:${'b'.repeat(64)}`;

function image(over: Partial<ReferenceFacts> = {}): ReferenceFacts {
  return {
    id: ID,
    repoTags: [],
    repoDigests: [],
    labels: managedLabels('p', 'w'),
    comment: '',
    ...over,
  };
}

const declared = (commit: string, reference: string) => ({
  ...managedLabels('p', 'w'),
  [LABEL_COMMIT]: commit,
  [LABEL_REFERENCE]: reference,
});

describe('reference forms', () => {
  it('tells ids, hex strings, digests and tags apart', () => {
    expect(referenceKind(ID)).toBe('id');
    expect(referenceKind('a'.repeat(64))).toBe('id');
    expect(referenceKind('a'.repeat(12))).toBe('hex');
    expect(referenceKind(`snap/x@sha256:${'c'.repeat(64)}`)).toBe('digest');
    expect(referenceKind('snap/x:1')).toBe('tag');
    expect(referenceKind('localhost:5000/snap')).toBe('tag');
  });

  it('canonical tags are the form the engine lists', () => {
    expect(canonicalTag('busybox')).toBe('busybox:latest');
    expect(canonicalTag('docker.io/library/busybox:1')).toBe('busybox:1');
    expect(canonicalTag('docker.io/acme/snap')).toBe('acme/snap:latest');
    expect(canonicalTag('localhost:5000/snap')).toBe('localhost:5000/snap:latest');
    expect(canonicalTag('localhost:5000/snap:2')).toBe('localhost:5000/snap:2');
  });
});

describe('attribution rule', () => {
  it("snapkeeper's own tags of this image are owned; one naming another image is not", () => {
    const a = attributeReferences(
      image({ repoTags: [heldTag(ID), reapingTag(ID), `snapkeeper/held:${'b'.repeat(64)}`, 'x:1'] }),
      ['x:1'],
    );
    expect(a.owned).toEqual([heldTag(ID), reapingTag(ID), 'x:1']);
    expect(a.foreign).toEqual([`snapkeeper/held:${'b'.repeat(64)}`]);
  });

  it('a registered snapshot owns what it recorded; a tag added later (a promotion) is foreign', () => {
    const a = attributeReferences(image({ repoTags: ['snap/p:1', 'base/ci:v2', heldTag(ID)] }), ['snap/p:1']);
    expect(a).toEqual({ owned: ['snap/p:1', heldTag(ID)], foreign: ['base/ci:v2'], derived: false });
  });

  it('a registered snapshot never applies the single-tag rule: a lone later tag stays foreign', () => {
    const a = attributeReferences(image({ repoTags: ['base/ci:v2'] }), []);
    expect(a.foreign).toEqual(['base/ci:v2']);
  });

  it('an unregistered raw commit: its single tag is attributable, two tags are not', () => {
    expect(attributeReferences(image({ repoTags: ['snap/p:1', reapingTag(ID)] })).foreign).toEqual([]);
    expect(attributeReferences(image({ repoTags: ['snap/p:1', 'base/ci:v2'] })).foreign).toEqual([
      'snap/p:1',
      'base/ci:v2',
    ]);
  });

  it('after snapkeeper released an image as kept, its remaining tag is never attributed', () => {
    const a = attributeReferences(image({ repoTags: ['base/ci:v2', keptTag(ID)] }));
    expect(a).toEqual({ owned: [keptTag(ID)], foreign: ['base/ci:v2'], derived: false });
    expect(attributeReferences(image({ repoTags: [keptTag(ID)] })).foreign).toEqual([]);
  });

  it('a declared commit owns its declared tag, and only that one', () => {
    const facts = image({
      labels: declared('c1', 'snap/p:c1'),
      comment: commitComment('c1'),
      repoTags: ['snap/p:c1', 'base/ci:v2'],
    });
    expect(attributeReferences(facts)).toEqual({
      owned: ['snap/p:c1'],
      foreign: ['base/ci:v2'],
      derived: false,
    });
    // Even with a single other tag: the declaration replaces the single-tag guess.
    expect(attributeReferences({ ...facts, repoTags: ['base/ci:v2'] }).foreign).toEqual(['base/ci:v2']);
  });

  it('an image built FROM a declared snapshot (labels inherited, Comment not) is derived: nothing is owned', () => {
    const a = attributeReferences(
      image({ labels: declared('c1', 'snap/p:c1'), comment: '', repoTags: ['base/ci:v2'] }),
    );
    expect(a).toEqual({ owned: [], foreign: ['base/ci:v2'], derived: true });
    const untagged = attributeReferences(image({ labels: declared('c1', 'snap/p:c1'), comment: 'other' }));
    expect(untagged.derived).toBe(true);
  });

  it('digests of an owned repository are owned (a pushed snapshot); others are foreign', () => {
    const mine = `snap/p@sha256:${'c'.repeat(64)}`;
    const theirs = `base/ci@sha256:${'d'.repeat(64)}`;
    const a = attributeReferences(image({ repoTags: ['snap/p:1'], repoDigests: [mine, theirs] }), [
      'snap/p:1',
    ]);
    expect(a.owned).toEqual(['snap/p:1', mine]);
    expect(a.foreign).toEqual([theirs]);
  });
});

describe('references recorded at registration', () => {
  it('by tag: the canonical tag, never a second tag that was already there', () => {
    const facts = image({ repoTags: ['snap/p:latest', 'base/ci:v2'] });
    expect(referencesAtRegistration('snap/p', facts)).toEqual(['snap/p:latest']);
  });

  it("by short or full id: the commit's single tag", () => {
    const facts = image({ repoTags: ['snap/p:1', heldTag(ID)] });
    expect(referencesAtRegistration('a'.repeat(12), facts)).toEqual(['snap/p:1']);
    expect(referencesAtRegistration(ID, facts)).toEqual(['snap/p:1']);
    expect(referencesAtRegistration(ID, image({ repoTags: ['snap/p:1', 'base/ci:v2'] }))).toEqual([]);
    expect(referencesAtRegistration(ID, image())).toEqual([]);
  });

  it("by id, of a parent: its single tag is not taken as its own (it may be someone's, added after snapkeeper untagged it)", () => {
    const facts = image({ repoTags: ['others/w:keep-1'] });
    expect(referencesAtRegistration(ID, facts)).toEqual(['others/w:keep-1']);
    expect(referencesAtRegistration(ID, facts, { hasChildren: true })).toEqual([]);
    // A declared commit's own tag stays its own, parent or not.
    const declaredFacts = image({
      repoTags: ['snap/p:c1'],
      labels: declared('c1', 'snap/p:c1'),
      comment: commitComment('c1'),
    });
    expect(referencesAtRegistration(ID, declaredFacts, { hasChildren: true })).toEqual(['snap/p:c1']);
    // Registered by that tag, the tag is the registration's own.
    expect(referencesAtRegistration('others/w:keep-1', facts, { hasChildren: true })).toEqual([
      'others/w:keep-1',
    ]);
  });

  it('by digest: the digest, and the declared tag of a declared commit', () => {
    const digest = `snap/p@sha256:${'c'.repeat(64)}`;
    const facts = image({
      labels: declared('c1', 'snap/p:c1'),
      comment: commitComment('c1'),
      repoTags: ['snap/p:c1'],
      repoDigests: [digest],
    });
    expect(referencesAtRegistration(digest, facts).sort()).toEqual([digest, 'snap/p:c1'].sort());
  });

  it('a hex name that is a repository is recorded as that tag', () => {
    const hex = 'abcdef012345';
    expect(referencesAtRegistration(hex, image({ id: OTHER, repoTags: [`${hex}:latest`, 'x:1'] }))).toEqual([
      `${hex}:latest`,
    ]);
  });
});
