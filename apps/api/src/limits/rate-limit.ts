import { AppError } from '@castforge/core';
import { type RequestHandler } from 'express';

/**
 * Requests per second per API key (SPEC §1, ext), as a token bucket held in this process: it costs no
 * Redis round trip, so a status poll stays one round trip. With several API processes behind a balancer
 * each enforces the limit on its own share of the traffic.
 */
export function rateLimit(perSecond: number): RequestHandler {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return (req, res, next) => {
    if (perSecond <= 0 || !req.principal) return next();
    const now = Date.now();
    const id = req.principal.keyId;
    const bucket = buckets.get(id) ?? { tokens: perSecond, at: now };
    bucket.tokens = Math.min(perSecond, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    if (buckets.size > 50_000) buckets.clear();
    buckets.set(id, bucket);
    if (bucket.tokens < 1) {
      const wait = Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond));
      return next(
        new AppError('RATE_LIMIT_EXCEEDED', `more than ${perSecond} requests per second for this API key`, {
          headers: { 'Retry-After': String(wait) },
        }),
      );
    }
    bucket.tokens -= 1;
    res.setHeader('X-RateLimit-Limit', String(perSecond));
    next();
  };
}
