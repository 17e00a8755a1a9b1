import { createHmac } from 'node:crypto';
import { safeEqualString } from '../ids';

/**
 * Result links are signed with an HMAC over the path and the expiry (SPEC §5): they work without an API
 * key until they expire, and cannot be altered or extended.
 */
const signature = (key: string, expiresAtSeconds: number, secret: Buffer) =>
  createHmac('sha256', secret).update(`${key}\n${expiresAtSeconds}`).digest('base64url');

export function signResultPath(key: string, expiresAtSeconds: number, secret: Buffer): string {
  const sig = signature(key, expiresAtSeconds, secret);
  return `/results/v1/${key}?expires=${expiresAtSeconds}&sig=${sig}`;
}

export function resultUrl(baseUrl: string, key: string, expiresAtMs: number, secret: Buffer): string {
  return `${baseUrl}${signResultPath(key, Math.floor(expiresAtMs / 1000), secret)}`;
}

export function verifyResultSignature(
  key: string,
  expiresAtSeconds: number,
  sig: string,
  secret: Buffer,
): boolean {
  return safeEqualString(signature(key, expiresAtSeconds, secret), sig);
}
