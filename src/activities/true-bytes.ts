// True bytes (issue 21): which bytes of a host's disk only snapkeeper's snapshots hold, each layer
// counted once. A sum of image sizes counts a base image and every parent again in each child
// (kubernetes#68203); a sum of the engine's per-image unique sizes (df's Size - SharedSize) counts a
// layer two snapshots share in neither, so a chain of snapshots would look almost free. Instead the
// engine's image tree (one `GET /images/json?all=1`, no layer walk) splits the disk into each
// image's own layers (its size less its parent's), which it and every image built on it hold.
// They count for the budget when no unmanaged image holds them (a base image stays anyway), and are
// freed when the last live image holding them goes (see TrueBytesCount in budget/policy.ts).
import { imageKey } from '../contract/budget-types.js';
import type { TrueBytesNode } from '../contract/budget-types.js';
import { LABEL_MANAGED } from '../contract/names.js';
import type { ImageInfo } from '../docker/docker-port.js';

/** A node while the tree is walked; written out without its defaults (TrueBytesNode). */
interface Node {
  key: string;
  parent: string | null;
  bytes: number;
  live: boolean;
  others: number;
}

interface Subtree {
  /** Every image of it carries the managed label. */
  managed: boolean;
  /** Its live snapkeeper images (tagged, not on their way out). */
  live: number;
  /** Its live images that were asked about. */
  wanted: number;
}

/**
 * The tree nodes whose layers only snapkeeper's images hold and that an asked-about snapshot
 * (`wanted`, image keys) holds. `departing` (image keys): images already on their way out (the
 * budget's pending removals) hold nothing, nor do untagged managed images (retired parents that
 * go with their last child). Linear in the number of images, whatever the depth of a chain.
 */
export function trueBytesNodes(
  images: ImageInfo[],
  wanted: ReadonlySet<string>,
  departing: ReadonlySet<string>,
): TrueBytesNode[] {
  const byId = new Map(images.map((i) => [i.id, i]));
  const children = new Map<string, ImageInfo[]>();
  for (const i of images) {
    if (!i.parentId || !byId.has(i.parentId)) continue;
    const list = children.get(i.parentId) ?? [];
    list.push(i);
    children.set(i.parentId, list);
  }
  const isLive = (i: ImageInfo) =>
    i.labels[LABEL_MANAGED] === 'true' && i.repoTags.length > 0 && !departing.has(imageKey(i.id));

  // Top-down order without recursion: a long chain of commits must not overflow the stack.
  const order: ImageInfo[] = [];
  const stack = images.filter((i) => !i.parentId || !byId.has(i.parentId));
  while (stack.length > 0) {
    const i = stack.pop() as ImageInfo;
    order.push(i);
    for (const c of children.get(i.id) ?? []) stack.push(c);
  }
  const subtrees = new Map<string, Subtree>();
  for (let n = order.length - 1; n >= 0; n--) {
    const i = order[n] as ImageInfo;
    const live = isLive(i);
    const sub: Subtree = {
      managed: i.labels[LABEL_MANAGED] === 'true',
      live: live ? 1 : 0,
      wanted: live && wanted.has(imageKey(i.id)) ? 1 : 0,
    };
    for (const c of children.get(i.id) ?? []) {
      const s = subtrees.get(c.id) as Subtree;
      sub.managed &&= s.managed;
      sub.live += s.live;
      sub.wanted += s.wanted;
    }
    subtrees.set(i.id, sub);
  }
  const listed = (i: ImageInfo) => {
    const s = subtrees.get(i.id) as Subtree;
    return s.managed && s.wanted > 0;
  };

  const nodes = new Map<string, Node>();
  for (const i of order) {
    if (!listed(i)) continue;
    const parent = i.parentId ? byId.get(i.parentId) : undefined;
    const node: Node = {
      key: imageKey(i.id),
      parent: parent && listed(parent) ? imageKey(parent.id) : null,
      bytes: Math.max(i.sizeBytes - (parent?.sizeBytes ?? 0), 0),
      live: isLive(i),
      others: 0,
    };
    const kids = children.get(i.id) ?? [];
    for (const c of kids) if (!listed(c)) node.others += (subtrees.get(c.id) as Subtree).live;
    // A retired parent whose one listed child holds all it holds is freed with that child: one
    // node for the chain keeps the facts as small as the number of live snapshots in it.
    const up = node.parent ? nodes.get(node.parent) : undefined;
    if (up && !up.live && up.others === 0 && onlyListedChild(up, i, byId, children, listed)) {
      nodes.delete(up.key);
      node.bytes += up.bytes;
      node.parent = up.parent;
    }
    nodes.set(node.key, node);
  }
  return [...nodes.values()].map(({ key, parent, bytes, live, others }) => ({
    key,
    bytes,
    ...(parent !== null ? { parent } : {}),
    ...(live ? {} : { retired: true as const }),
    ...(others > 0 ? { others } : {}),
  }));
}

function onlyListedChild(
  up: Node,
  child: ImageInfo,
  byId: Map<string, ImageInfo>,
  children: Map<string, ImageInfo[]>,
  listed: (i: ImageInfo) => boolean,
): boolean {
  const parent = byId.get(child.parentId);
  if (!parent || imageKey(parent.id) !== up.key) return false;
  return (children.get(parent.id) ?? []).every((c) => c.id === child.id || !listed(c));
}
