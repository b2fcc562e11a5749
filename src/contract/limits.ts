// Bounds on user input, enforced by the API schema and again by the workflow's update validators
// (a client that talks to Temporal directly must not get around them).

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._\-/]{0,127}$/;
export const HOST_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
// name[:tag] or name@digest or a bare image id; lowercase repository path components as Docker wants.
export const IMAGE_REF_PATTERN =
  /^(sha256:[a-f0-9]{64}|[a-f0-9]{12,64}|[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?)$/;
export const IMAGE_REF_MAX_LENGTH = 255;
export const MIN_TTL_SECONDS = 1;
export const MAX_TTL_SECONDS = 90 * 24 * 3600;
export const DEFAULT_TTL_SECONDS = 24 * 3600;
export const REPOSITORY_PATTERN = /^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/;
export const REASON_MAX_LENGTH = 500;
/**
 * Docker refuses the 125th chained commit ("max depth exceeded"); a snapshot this deep is no longer
 * offered, so the next job starts from its base and a fresh chain begins well before that.
 */
export const DEFAULT_MAX_LAYER_DEPTH = 100;
export const MAX_LAYER_DEPTH_LIMIT = 120;

export function validateRegistrationFields(input: {
  image: unknown;
  host: unknown;
  ttlSeconds?: unknown;
  pullRequest?: unknown;
}): string | undefined {
  if (
    typeof input.image !== 'string' ||
    input.image.length > IMAGE_REF_MAX_LENGTH ||
    !IMAGE_REF_PATTERN.test(input.image)
  )
    return `image must be a Docker image reference (repository[:tag], @sha256 digest, or image id), got ${JSON.stringify(input.image)}`;
  if (typeof input.host !== 'string' || !HOST_ID_PATTERN.test(input.host))
    return `host must match ${HOST_ID_PATTERN.source}`;
  if (input.ttlSeconds !== undefined && input.ttlSeconds !== null) {
    const t = input.ttlSeconds;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < MIN_TTL_SECONDS || t > MAX_TTL_SECONDS)
      return `ttlSeconds must be an integer from ${MIN_TTL_SECONDS} to ${MAX_TTL_SECONDS}`;
  }
  if (input.pullRequest !== undefined && input.pullRequest !== null)
    return validatePullRequest(input.pullRequest);
  return undefined;
}

export function validatePullRequest(pr: unknown): string | undefined {
  if (typeof pr !== 'object' || pr === null) return 'pullRequest must be an object {repository, number}';
  const { repository, number } = pr as { repository?: unknown; number?: unknown };
  if (typeof repository !== 'string' || !REPOSITORY_PATTERN.test(repository))
    return 'pullRequest.repository must be "owner/name"';
  if (typeof number !== 'number' || !Number.isInteger(number) || number < 1 || number > 2 ** 31 - 1)
    return 'pullRequest.number must be a positive integer';
  return undefined;
}
