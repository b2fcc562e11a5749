// GitHub signs the exact bytes it sends. Octokit's verify (GitHub's own receiver) checks the body
// as a string: decoding a body capped at 1 MiB costs nothing measurable. A body whose bytes are
// not valid UTF-8 would change in that decode (a lone 0xff becomes U+FFFD, three other bytes), so
// for such a body alone the HMAC is computed over the bytes themselves, in constant time.
import { isUtf8 } from 'node:buffer';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Webhooks } from '@octokit/webhooks';

/** `sha256=` and 64 hex digits, as GitHub sends X-Hub-Signature-256. */
export const SIGNATURE_PATTERN = /^sha256=[0-9a-f]{64}$/i;

export async function verifySignature(
  webhooks: Pick<Webhooks, 'verify'>,
  secret: string,
  body: Buffer,
  signatureHeader: string,
): Promise<boolean> {
  if (!SIGNATURE_PATTERN.test(signatureHeader) || body.length === 0) return false;
  // Octokit compares the header as text; hex digits are the same in either case.
  const signature = `sha256=${signatureHeader.slice('sha256='.length).toLowerCase()}`;
  // Valid UTF-8 decodes to a string that encodes back to exactly these bytes.
  if (isUtf8(body)) return webhooks.verify(body.toString('utf8'), signature);
  return verifyBytes(secret, body, signature);
}

function verifyBytes(secret: string, body: Buffer, signature: string): boolean {
  const expected = createHmac('sha256', secret).update(body).digest();
  const given = Buffer.from(signature.slice('sha256='.length), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
