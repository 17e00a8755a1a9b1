import { AppError, type Redis, type Registry } from '@castforge/core';
import { type Request, type RequestHandler, type Response } from 'express';
import { Counter } from 'prom-client';
import { type Decision, type Limiter, memoryLimiter, redisLimiter } from './limiter';
import { type RateLimitEnv, type RateLimitPolicy, rateLimitPolicies } from './rate-limit.config';
import { createAddressBlocks, createRecentCredentials } from './address-blocks';

/** The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers): the policy, and what is left of it. */
function setRateLimitHeaders(res: Response, policy: RateLimitPolicy, decision: Decision) {
  res.setHeader('RateLimit-Policy', `"${policy.name}";q=${policy.quota};w=${policy.windowSeconds}`);
  res.setHeader('RateLimit', `"${policy.name}";r=${decision.remaining};t=${decision.resetSeconds}`);
}

const tooMany = (message: string, decision: Decision) =>
  new AppError('RATE_LIMIT_EXCEEDED', message, {
    // Integer seconds: clients (the official SDK among them) parse Retry-After with int().
    headers: { 'Retry-After': String(Math.max(1, decision.resetSeconds)) },
  });

const isRead = (req: Request) => req.method === 'GET' || req.method === 'HEAD';
const clientAddress = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

/** Runs a middleware to its end: whether it passed the request on, or the error it ended with. */
async function settle(handler: RequestHandler, req: Request, res: Response) {
  let outcome: { passed: boolean; error?: unknown } = { passed: false };
  try {
    await handler(req, res, (error?: unknown) => {
      outcome = error === undefined ? { passed: true } : { passed: false, error };
    });
  } catch (error) {
    outcome = { passed: false, error };
  }
  return outcome;
}

/**
 * The API's rate limits (SPEC §1, ext), each answering 429 RATE_LIMIT_EXCEEDED with Retry-After and
 * the IETF RateLimit / RateLimit-Policy fields:
 * - `perKey`: after authentication, per API key, held in Redis so the budget is one across every API
 *   process; status reads (GET) and writes have separate budgets.
 * - `authentication(authenticate)`: wraps authentication. Requests refused 401 are counted per client
 *   address in Redis; an address past its budget is refused in memory, before its key is looked up in
 *   MongoDB, until its window ends (except credentials that authenticated here lately).
 * - `publicRoutes`: per client address in this process's memory, for the routes without a key
 *   (health, readiness, metrics, the document): a probe or a scrape never waits on Redis.
 */
export function createRateLimits(deps: {
  redis: Redis;
  config: RateLimitEnv & { REDIS_PREFIX: string };
  registry: Registry;
}) {
  const policies = rateLimitPolicies(deps.config);
  const refused = new Counter({
    name: 'rate_limited_requests_total',
    help: 'Requests refused 429 by a rate limit, by policy (reads, writes, unauthenticated, public)',
    labelNames: ['policy'] as const,
    registers: [deps.registry],
  });
  const fallbacks = new Counter({
    name: 'rate_limit_fallback_decisions_total',
    help: 'Rate-limit decisions taken in process memory because Redis was away or slow, by policy',
    labelNames: ['policy'] as const,
    registers: [deps.registry],
  });
  const shared = (policy: RateLimitPolicy | undefined) =>
    policy &&
    redisLimiter(policy, {
      redis: deps.redis,
      prefix: deps.config.REDIS_PREFIX,
      onFallback: () => fallbacks.inc({ policy: policy.name }),
    });
  const reads = shared(policies.reads);
  const writes = shared(policies.writes);
  const failures = shared(policies.unauthenticated);
  const publicLimiter = policies.public && memoryLimiter(policies.public);
  const blocks = createAddressBlocks();
  const recent = createRecentCredentials();

  const spend = async (limiter: Limiter, key: string, res: Response, message: string) => {
    const decision = await limiter.consume(key);
    setRateLimitHeaders(res, limiter.policy, decision);
    if (decision.allowed) return undefined;
    refused.inc({ policy: limiter.policy.name });
    return tooMany(message, decision);
  };

  const perKey: RequestHandler = async (req, res, next) => {
    const limiter = isRead(req) ? reads : writes;
    if (!limiter || !req.principal) return next();
    const kind = isRead(req) ? 'status reads' : 'writes';
    const { quota, windowSeconds } = limiter.policy;
    next(
      await spend(
        limiter,
        req.principal.keyId,
        res,
        `more than ${quota} ${kind} in ${windowSeconds} s for this API key`,
      ),
    );
  };

  const authentication =
    (authenticate: RequestHandler): RequestHandler =>
    async (req, res, next) => {
      if (!failures) {
        await authenticate(req, res, next);
        return;
      }
      const address = clientAddress(req);
      const { quota, windowSeconds } = failures.policy;
      const blocked = blocks.remaining(address);
      if (blocked && !recent.known(req)) {
        refused.inc({ policy: failures.policy.name });
        setRateLimitHeaders(res, failures.policy, blocked);
        const message = `more than ${quota} requests without a valid API key from this address in ${windowSeconds} s`;
        next(tooMany(message, blocked));
        return;
      }
      const outcome = await settle(authenticate, req, res);
      if (outcome.error instanceof AppError && outcome.error.code === 'UNAUTHORIZED') {
        // Counted before the 401 leaves, so the next request from this address already sees it.
        const decision = await failures.consume(address);
        if (decision.remaining === 0) blocks.add(address, decision);
      }
      if (outcome.error !== undefined) return next(outcome.error);
      if (outcome.passed) {
        recent.remember(req);
        next();
      }
    };

  const publicRoutes: RequestHandler = async (req, res, next) => {
    if (!publicLimiter) return next();
    const address = clientAddress(req);
    const { quota, windowSeconds } = publicLimiter.policy;
    next(
      await spend(
        publicLimiter,
        address,
        res,
        `more than ${quota} requests in ${windowSeconds} s from this address`,
      ),
    );
  };

  return { perKey, authentication, publicRoutes };
}
export type RateLimits = ReturnType<typeof createRateLimits>;
