import { type Redis } from '@castforge/core';
import {
  RLWrapperTimeouts,
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';
import { type RateLimitPolicy } from './rate-limit.config';

/** How long a decision may wait for Redis before this process decides alone (see `redisLimiter`). */
const REDIS_TIMEOUT_MS = 250;

/** One decision: whether the request fits, what is left, and when the window refills. */
export interface Decision {
  allowed: boolean;
  remaining: number;
  /** Whole seconds until the budget refills (at least 1 when refused, for Retry-After). */
  resetSeconds: number;
}

export interface Limiter {
  policy: RateLimitPolicy;
  /** Spends one request of `key`'s budget. Never rejects. */
  consume(key: string): Promise<Decision>;
}

const toDecision = (res: RateLimiterRes, allowed: boolean): Decision => ({
  allowed,
  remaining: res.remainingPoints,
  resetSeconds: Math.max(allowed ? 0 : 1, Math.ceil(res.msBeforeNext / 1000)),
});

function limiterOf(policy: RateLimitPolicy, limiter: RateLimiterAbstract): Limiter {
  return {
    policy,
    consume: (key) =>
      limiter.consume(key).then(
        (res) => toDecision(res, true),
        (res: unknown) => {
          if (res instanceof RateLimiterRes) return toDecision(res, false);
          // Only when the in-memory fallback failed too, which it cannot: let the request through.
          return { allowed: true, remaining: policy.quota, resetSeconds: policy.windowSeconds };
        },
      ),
  };
}

/** The in-memory budget that decides while Redis is away, counting each decision it takes. */
class FallbackLimiter extends RateLimiterMemory {
  constructor(
    options: ConstructorParameters<typeof RateLimiterMemory>[0],
    private readonly onUse: () => void,
  ) {
    super(options);
  }

  override consume(key: string | number, points?: number, options?: Record<string, unknown>) {
    this.onUse();
    return super.consume(key, points, options);
  }
}

/** A fixed-window budget held in this process's memory: for routes that must never wait on Redis. */
export function memoryLimiter(policy: RateLimitPolicy): Limiter {
  return limiterOf(
    policy,
    new RateLimiterMemory({ keyPrefix: policy.name, points: policy.quota, duration: policy.windowSeconds }),
  );
}

/**
 * A fixed-window budget in Redis, shared by every API process (rate-limiter-flexible's one-script
 * INCR + PEXPIRE per decision). When Redis is not connected, or has not answered within 250 ms, the
 * decision is taken by a budget of the same size in this process's memory instead: a request never
 * waits on a Redis outage here (routes that need Redis answer their own fast 503), and the limit
 * still holds per process while Redis is away.
 */
export function redisLimiter(
  policy: RateLimitPolicy,
  deps: { redis: Redis; prefix: string; onFallback: () => void },
): Limiter {
  const insuranceLimiter = new FallbackLimiter(
    { keyPrefix: policy.name, points: policy.quota, duration: policy.windowSeconds },
    deps.onFallback,
  );
  const store = new RateLimiterRedis({
    storeClient: deps.redis,
    keyPrefix: `${deps.prefix}:ratelimit:${policy.name}`,
    points: policy.quota,
    duration: policy.windowSeconds,
    rejectIfRedisNotReady: true,
    insuranceLimiter,
  });
  return limiterOf(
    policy,
    new RLWrapperTimeouts({ limiter: store, timeoutMs: REDIS_TIMEOUT_MS, insuranceLimiter }),
  );
}
