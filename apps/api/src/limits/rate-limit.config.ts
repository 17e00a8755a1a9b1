import { z } from 'zod';

const quota = z.coerce.number().int().min(0).max(100_000_000);
const windowSeconds = z.coerce.number().int().min(1).max(86_400);

/**
 * Express's `trust proxy`: `false` (the client address is the socket's), `true`, a number of hops, or
 * addresses/subnets of the proxies ("loopback, 10.0.0.0/8"). Behind a proxy that is not trusted, every
 * client has the proxy's address, and the per-address budgets below would be shared by all of them.
 */
const trustProxy = z
  .string()
  .default('false')
  .transform((value): boolean | number | string => {
    const trimmed = value.trim().toLowerCase();
    if (trimmed === 'false' || trimmed === '') return false;
    if (trimmed === 'true') return true;
    return /^\d+$/.test(trimmed) ? Number(trimmed) : value;
  });

/**
 * Rate limits (SPEC §1, ext). Defaults hold the seed's own loop with margin: a 500-profile roster
 * submitted in one burst spends 500 of 6,000 writes per minute, and 1,000 jobs polled once a second
 * spend at most 11,000 of 20,000 reads in any 10-second window (10 polls a job, plus one second of
 * jitter). 0 turns a budget off.
 */
export const rateLimitEnvFields = {
  RATE_LIMIT_READS: quota.default(20_000),
  RATE_LIMIT_READS_WINDOW_SECONDS: windowSeconds.default(10),
  RATE_LIMIT_WRITES: quota.default(6000),
  RATE_LIMIT_WRITES_WINDOW_SECONDS: windowSeconds.default(60),
  RATE_LIMIT_UNAUTHENTICATED: quota.default(100),
  RATE_LIMIT_UNAUTHENTICATED_WINDOW_SECONDS: windowSeconds.default(60),
  RATE_LIMIT_PUBLIC: quota.default(1200),
  RATE_LIMIT_PUBLIC_WINDOW_SECONDS: windowSeconds.default(60),
  /** Deprecated: when set, reads and writes each get this many requests per second (0: no limit). */
  RATE_LIMIT_RPS: quota.optional(),
  TRUST_PROXY: trustProxy,
};

export type RateLimitEnv = z.infer<z.ZodObject<typeof rateLimitEnvFields>>;

export type PolicyName = 'reads' | 'writes' | 'unauthenticated' | 'public';

/** One budget: `quota` requests per `windowSeconds`, named as the RateLimit headers name it. */
export interface RateLimitPolicy {
  name: PolicyName;
  quota: number;
  windowSeconds: number;
}

const policy = (name: PolicyName, quota: number, windowSeconds: number) =>
  quota > 0 ? { name, quota, windowSeconds } : undefined;

/** The budgets in force; a budget of 0 is absent (no limit). */
export function rateLimitPolicies(env: RateLimitEnv): Record<PolicyName, RateLimitPolicy | undefined> {
  const legacy = env.RATE_LIMIT_RPS;
  return {
    reads:
      legacy !== undefined
        ? policy('reads', legacy, 1)
        : policy('reads', env.RATE_LIMIT_READS, env.RATE_LIMIT_READS_WINDOW_SECONDS),
    writes:
      legacy !== undefined
        ? policy('writes', legacy, 1)
        : policy('writes', env.RATE_LIMIT_WRITES, env.RATE_LIMIT_WRITES_WINDOW_SECONDS),
    unauthenticated: policy(
      'unauthenticated',
      env.RATE_LIMIT_UNAUTHENTICATED,
      env.RATE_LIMIT_UNAUTHENTICATED_WINDOW_SECONDS,
    ),
    public: policy('public', env.RATE_LIMIT_PUBLIC, env.RATE_LIMIT_PUBLIC_WINDOW_SECONDS),
  };
}
