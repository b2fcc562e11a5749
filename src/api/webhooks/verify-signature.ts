// GitHub signs the exact bytes it sends. The HMAC is computed over the received Buffer itself (no
// decoding into a string, which could alter invalid UTF-8 and costs a copy of the body) and
// compared in constant time.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** `sha256=` and 64 hex digits, as GitHub sends X-Hub-Signature-256. */
export const SIGNATURE_PATTERN = /^sha256=[0-9a-f]{64}$/i;

export function verifySignature(secret: string, body: Buffer, signatureHeader: string): boolean {
  if (!SIGNATURE_PATTERN.test(signatureHeader) || body.length === 0) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  const given = Buffer.from(signatureHeader.slice('sha256='.length), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
