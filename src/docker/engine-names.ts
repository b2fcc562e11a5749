// How an engine names images, brought to the one form the rest of snapkeeper compares: Docker's.
// Podman's Docker-compatible API differs in three ways that matter to the reference rules and the
// parent walk (docs/operations.md, "Engines other than Docker"):
// - it answers some ids as bare hex (a commit's Id, an image's Parent/ParentId) where Docker
//   answers `sha256:<hex>`;
// - it qualifies every short name it stored through the API with `docker.io/` (and `library/`
//   for one-part names), and the names `podman commit`/`build` gave with `localhost/`, where Docker
//   lists the familiar `repo:tag`; Podman resolves the short name to either when asked;
// - it lists a digest reference `repo@sha256:…` for every tagged repository of an image, from the
//   manifest it keeps for local images too. Such a digest is no name of its own: it goes with the
//   tag (the image goes when its last tag goes), and removing it by name removes the whole image.

const HEX_ID = /^[a-f0-9]{64}$/;
const DOCKER_HUB_PREFIX = /^(?:docker\.io|index\.docker\.io)\/(?:library\/(?=[^/]+$))?/;

/** `sha256:<hex>` for an id answered as 64 bare hex digits; anything else (and '') unchanged. */
export function fullImageId(id: string): string {
  return HEX_ID.test(id) ? `sha256:${id}` : id;
}

/**
 * Docker's familiar form of a tag or digest reference: `docker.io/library/x:1` → `x:1`,
 * `docker.io/team/x:1` → `team/x:1`. Names of other registries (`localhost/…`, `host:5000/…`) are
 * names of their own and stay as they are.
 */
export function familiarReference(ref: string): string {
  return ref.replace(DOCKER_HUB_PREFIX, '');
}

/** Which engine answered: the names and digests of the two differ (above). */
export type EngineFlavour = 'docker' | 'podman';

const PODMAN_LOCAL_PREFIX = /^localhost\//;

export interface EngineReferences {
  repoTags: string[];
  repoDigests: string[];
}

/** The repository of `repo:tag` or `repo@digest` (a registry port is not a tag). */
function repositoryOf(ref: string): string {
  const at = ref.indexOf('@');
  if (at >= 0) return ref.slice(0, at);
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? ref.slice(0, colon) : ref;
}

/**
 * An image's references as snapkeeper compares them: familiar names, no `<none>` placeholders, and
 * on Podman no `localhost/` prefix (on dockerd `localhost/x` is a registry's name and stays) and no
 * digest of a repository the image is tagged in, since there that digest is the tag's shadow, not
 * a reference that could keep the image.
 */
export function engineReferences(
  repoTags: readonly string[] | null | undefined,
  repoDigests: readonly string[] | null | undefined,
  engine: EngineFlavour,
): EngineReferences {
  const familiar = (ref: string) => {
    const name = familiarReference(ref);
    return engine === 'podman' ? name.replace(PODMAN_LOCAL_PREFIX, '') : name;
  };
  const tags = unique((repoTags ?? []).filter((t) => t !== '<none>:<none>').map(familiar));
  let digests = unique((repoDigests ?? []).filter((d) => d !== '<none>@<none>').map(familiar));
  if (engine === 'podman') {
    const tagged = new Set(tags.map(repositoryOf));
    digests = digests.filter((d) => !tagged.has(repositoryOf(d)));
  }
  return { repoTags: tags, repoDigests: digests };
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
