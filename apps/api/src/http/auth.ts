import { AppError, type KeyStore } from '@castforge/core';
import { type RequestHandler } from 'express';

/** X-API-Key authentication (SPEC §1): a missing or unknown key is 401, whatever the route. */
export function authenticate(keys: KeyStore): RequestHandler {
  return async (req, _res, next) => {
    const key = req.get('x-api-key');
    if (!key) throw new AppError('UNAUTHORIZED', 'missing X-API-Key header');
    if (key.length > 256) throw new AppError('UNAUTHORIZED', 'unknown API key');
    const principal = await keys.authenticate(key);
    if (!principal) throw new AppError('UNAUTHORIZED', 'unknown API key');
    req.principal = principal;
    next();
  };
}
