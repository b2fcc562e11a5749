// The one rule for which references of an image snapkeeper may remove, used by the Docker
// activities (registration and cleanup) and by the reconciler alike. Pure: no I/O, bundled into
// workflow code too.
//
// snapkeeper owns: its own tags (held, retiring, reaping, kept, each named after the image id), the
// references a snapshot recorded at registration, and the reference a commitSnapshot commit
// declares for itself. A commit declares itself with two labels (io.snapkeeper.commit=<id>,
// io.snapkeeper.reference=<repo:tag>) and the same id in the image's Comment; an image built FROM
// that snapshot inherits the labels but not the Comment, so it is recognised as derived and none
// of its references is snapkeeper's. Without a declaration (a raw `docker commit --change LABEL`),
// the single tag of an image that has exactly one is taken as the commit's own, but only for an
// image no snapshot recorded and that snapkeeper never released as kept. Everything else is
// someone else's and keeps the image.
import {
  KEPT_REPOSITORY,
  LABEL_COMMIT,
  LABEL_REFERENCE,
  SNAPKEEPER_REPOSITORIES,
  imageIdTag,
} from './names.js';

export interface ReferenceFacts {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  labels: Record<string, string>;
  comment: string;
}

export interface Attribution {
  /** References snapkeeper may remove. */
  owned: string[];
  /** References that keep the image: snapkeeper never removes them, nor the image while they exist. */
  foreign: string[];
  /** Built FROM a declared snapshot: not a snapshot at all, never removed. */
  derived: boolean;
}

const COMMENT_PREFIX = 'snapkeeper commit ';

/** The Comment commitSnapshot gives a commit; an image built from it does not inherit it. */
export function commitComment(commitId: string): string {
  return `${COMMENT_PREFIX}${commitId}`;
}

/** repo:tag → repo; a registry port (host:5000/x) is not a tag. */
export function repositoryOf(tag: string): string {
  const at = tag.indexOf('@');
  const name = at >= 0 ? tag.slice(0, at) : tag;
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? name.slice(0, colon) : name;
}

/** A tag of snapkeeper's own repositories that names this very image. */
export function isSnapkeeperTag(tag: string, imageId: string): boolean {
  const colon = tag.lastIndexOf(':');
  if (colon < 0) return false;
  return (
    SNAPKEEPER_REPOSITORIES.includes(tag.slice(0, colon)) && tag.slice(colon + 1) === imageIdTag(imageId)
  );
}

export type ReferenceKind = 'id' | 'hex' | 'digest' | 'tag';

/**
 * How a registration names its image: a full id (`sha256:…` or 64 hex digits), a hex string that
 * may be a short id or a repository name (Docker tries the name first, then the id prefix), a
 * digest reference (`repo@sha256:…`), or a tag.
 */
export function referenceKind(ref: string): ReferenceKind {
  if (/^sha256:[a-f0-9]{64}$/.test(ref) || /^[a-f0-9]{64}$/.test(ref)) return 'id';
  if (ref.includes('@')) return 'digest';
  if (/^[a-f0-9]{1,63}$/.test(ref)) return 'hex';
  return 'tag';
}

/** The form the engine lists a tag in: `docker.io/library/x` → `x:latest`. */
export function canonicalTag(ref: string): string {
  let name = ref.replace(/^(?:docker\.io|index\.docker\.io)\//, '');
  name = name.replace(/^library\//, '');
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? name : `${name}:latest`;
}

/** The reference a registration recorded as its own, for the form it was given in. */
export function registeredReference(ref: string, image: ReferenceFacts): string | null {
  const kind = referenceKind(ref);
  if (kind === 'id') return null;
  if (kind === 'digest') return image.repoDigests.includes(ref) ? ref : null;
  const tag = canonicalTag(ref);
  // A hex string that named the image by its id prefix is no reference of its own.
  return kind === 'hex' && !image.repoTags.includes(tag) ? null : tag;
}

/** The reference the image's commit declared, when this image is that commit (not built from it). */
function declaration(image: ReferenceFacts): { reference: string | null; derived: boolean } | null {
  const commit = image.labels[LABEL_COMMIT];
  if (!commit) return null;
  const own = image.comment.trim() === commitComment(commit);
  return { reference: own ? (image.labels[LABEL_REFERENCE] ?? null) : null, derived: !own };
}

/**
 * Splits the image's references into owned and foreign.
 * @param recorded what a registered snapshot recorded as its own; undefined for an image no
 *   snapshot holds (the reconciler's orphans), where the single-tag rule applies.
 */
export function attributeReferences(image: ReferenceFacts, recorded?: readonly string[]): Attribution {
  const declared = declaration(image);
  const claimed = new Set(recorded ?? []);
  if (declared?.reference) claimed.add(declared.reference);
  const others = image.repoTags.filter((t) => !isSnapkeeperTag(t, image.id));
  const released = image.repoTags.some(
    (t) => repositoryOf(t) === KEPT_REPOSITORY && isSnapkeeperTag(t, image.id),
  );
  if (recorded === undefined && !declared && !released && others.length === 1)
    claimed.add(others[0] as string);
  const ownedRepositories = new Set([...claimed].filter((r) => !r.includes('@')).map(repositoryOf));

  const owned: string[] = [];
  const foreign: string[] = [];
  for (const ref of [...image.repoTags, ...image.repoDigests]) {
    const ours =
      isSnapkeeperTag(ref, image.id) ||
      claimed.has(ref) ||
      // A digest appears when an owned tag was pushed or pulled: it is that tag's.
      (ref.includes('@') && ownedRepositories.has(repositoryOf(ref)));
    (ours ? owned : foreign).push(ref);
  }
  return { owned, foreign, derived: declared?.derived ?? false };
}

/**
 * What a registration records as the snapshot's own references: the registered one and, when the
 * image was named by id or digest, the commit's own tag by the same rule the reconciler uses (the
 * declared one, or the single tag of an image that has exactly one).
 */
export function referencesAtRegistration(
  ref: string,
  image: ReferenceFacts,
  options: { hasChildren?: boolean } = {},
): string[] {
  const registered = registeredReference(ref, image);
  // An image with children is a parent, not a fresh commit: when its own snapshot retired,
  // snapkeeper untagged it and kept it for its child, so its only tag may be one someone added
  // since (issue 17's foreign-tag counterexample). Its single tag is not taken as its own; if it
  // is, the image is reported kept by it at its end, never stripped of it.
  const owned = new Set(attributeReferences(image, options.hasChildren ? [] : undefined).owned);
  if (registered) owned.add(registered);
  return [...owned].filter((r) => !isSnapkeeperTag(r, image.id));
}
