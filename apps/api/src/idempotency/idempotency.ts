import { AppError, type RedisKeys, invalidParameters, sha256Hex } from '@castforge/core';
import { type RequestHandler } from 'express';
import { type Redis } from 'ioredis';
import { requireTenant } from '../http/request-context';

const TTL_SECONDS = 24 * 3600;
/** A claim whose request never answered (the process died) frees the key after this long, not 24 h. */
const CLAIM_SECONDS = 60;
const WAIT_MS = 10_000;
const KEY_FORMAT = /^[\x21-\x7e]{1,255}$/;

export interface StoredResponse {
  status: number;
  body: unknown;
}

type Entry = { s: 'pending'; h: string } | { s: 'done'; h: string; status: number; body: unknown };

/** Deeper than any body the API accepts: a body nested past it is refused before it is hashed. */
const MAX_DEPTH = 64;

/** JSON with object keys sorted, so `{"a":1,"b":2}` and `{"b":2,"a":1}` are the same body. */
export function canonicalJson(value: unknown, depth = 0): string {
  if (depth > MAX_DEPTH) {
    throw invalidParameters([
      { loc: ['body'], msg: `nests deeper than ${MAX_DEPTH} levels`, type: 'too_deep' },
    ]);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v, depth + 1)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v, depth + 1)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * `Idempotency-Key` (SPEC §3, ext): the same key with the same body within 24 h returns the first response
 * and does nothing new; with another body it is a 409. The first request claims the key atomically
 * (SET NX), so of 100 identical concurrent requests exactly one runs and the others wait for its answer.
 * A request that fails (validation, outage) releases the key, so a retry can succeed; only successes are
 * remembered.
 */
export function createIdempotency(deps: { redis: Redis; keys: RedisKeys }) {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  return {
    async run(
      tenantId: string,
      key: string | undefined,
      body: unknown,
      handler: () => Promise<StoredResponse>,
    ): Promise<StoredResponse & { replayed: boolean }> {
      if (key === undefined) return { ...(await handler()), replayed: false };
      if (!KEY_FORMAT.test(key)) {
        throw invalidParameters([
          {
            loc: ['header', 'Idempotency-Key'],
            msg: 'must be 1-255 visible ASCII characters',
            type: 'invalid',
          },
        ]);
      }
      const redisKey = deps.keys.idempotency(tenantId, sha256Hex(key));
      const hash = sha256Hex(canonicalJson(body));
      const deadline = Date.now() + WAIT_MS;

      for (;;) {
        const claimed = await deps.redis.set(
          redisKey,
          JSON.stringify({ s: 'pending', h: hash } satisfies Entry),
          'EX',
          CLAIM_SECONDS,
          'NX',
        );
        if (claimed) {
          let response: StoredResponse;
          try {
            response = await handler();
          } catch (err) {
            await deps.redis.del(redisKey).catch(() => undefined);
            throw err;
          }
          const done: Entry = { s: 'done', h: hash, status: response.status, body: response.body };
          await deps.redis.set(redisKey, JSON.stringify(done), 'EX', TTL_SECONDS);
          return { ...response, replayed: false };
        }
        const raw = await deps.redis.get(redisKey);
        if (raw === null) continue; // the first request failed and let go of the key: try to claim it
        const entry = JSON.parse(raw) as Entry;
        if (entry.h !== hash) {
          throw new AppError(
            'CONFLICT',
            'this Idempotency-Key was already used with a different request body',
          );
        }
        if (entry.s === 'done') return { status: entry.status, body: entry.body, replayed: true };
        if (Date.now() > deadline) {
          throw new AppError(
            'CONFLICT',
            'a request with this Idempotency-Key is still being processed; retry later',
          );
        }
        await sleep(20);
      }
    },
  };
}
export type Idempotency = ReturnType<typeof createIdempotency>;

/**
 * A POST that creates work and answers 202, made idempotent by the Idempotency-Key header: `created` runs
 * only for a request that really created something, not for a replay.
 */
export function idempotentCreate<T>(
  idempotency: Idempotency,
  create: (tenantId: string, body: unknown) => Promise<T>,
  created: (body: T) => void,
): RequestHandler {
  return async (req, res) => {
    const tenantId = requireTenant(req);
    const response = await idempotency.run(tenantId, req.get('idempotency-key'), req.body, async () => ({
      status: 202,
      body: await create(tenantId, req.body),
    }));
    if (response.replayed) res.setHeader('Idempotent-Replayed', 'true');
    else created(response.body as T);
    res.status(response.status).json(response.body);
  };
}
