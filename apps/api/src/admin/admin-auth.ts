import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError } from '@castforge/core';
import { type Request, type RequestHandler } from 'express';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** The key an operator sent: X-API-Key, or the password of Basic auth (what a browser prompts for). */
function presentedKey(req: Request): string | undefined {
  const header = req.get('x-api-key');
  if (header) return header;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(req.get('authorization') ?? '')?.[1];
  if (!basic) return undefined;
  const decoded = Buffer.from(basic, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

/**
 * Admin keys only (ADMIN_API_KEYS): a tenant's API key, like any other, is refused 401 in the SPEC §8
 * shape. Keys are compared as SHA-256 digests in constant time, against every admin key each time, so
 * neither the length nor the position of a match shows in the timing.
 */
export function adminAuthentication(adminKeys: readonly string[]): RequestHandler {
  const digests = adminKeys.map(digest);
  const refuse = (message: string) =>
    new AppError('UNAUTHORIZED', message, {
      headers: { 'WWW-Authenticate': 'Basic realm="castforge admin", charset="UTF-8"' },
    });
  return (req, _res, next) => {
    const key = presentedKey(req);
    if (!key) throw refuse('an admin key is required (X-API-Key or Basic auth password)');
    const presented = digest(key);
    let matched = false;
    for (const known of digests) matched = timingSafeEqual(presented, known) || matched;
    if (!matched) throw refuse('not an admin key');
    next();
  };
}
