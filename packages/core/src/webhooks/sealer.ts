import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Callback URLs often carry a token in their query string, so they are kept sealed (AES-256-GCM) wherever
 * they wait in Redis: in the job's status record until it ends, and in its delivery record until that ends.
 * The key is a deployment secret shared through MongoDB (see serverSecret).
 */
export function createSealer(key: Buffer) {
  if (key.length < 32) throw new Error('the sealing key must be at least 32 bytes');
  const aesKey = key.subarray(0, 32);
  return {
    seal(plain: string): string {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', aesKey, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return `v1.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
    },
    open(sealed: string): string {
      if (!sealed.startsWith('v1.')) throw new Error('not a sealed value');
      const raw = Buffer.from(sealed.slice(3), 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', aesKey, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    },
  };
}
export type Sealer = ReturnType<typeof createSealer>;

/** What the deliveries API shows of a URL: scheme, host and path, never the query or credentials. */
export function displayUrl(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
