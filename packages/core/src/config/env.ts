import { z } from 'zod';

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * Parses the environment once, at start-up. Every bad variable is reported in one message so an
 * operator fixes them in one pass instead of one restart per mistake.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  // Empty strings mean "unset" in .env files and compose files alike.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const name = issue.path.map(String).join('.') || '(environment)';
      const value = cleaned[name];
      return `${name}: ${issue.message}${value !== undefined ? ` (got ${JSON.stringify(value)})` : ''}`;
    }),
  );
}

const TRUTHY = ['true', '1', 'yes', 'on'];
const FALSY = ['false', '0', 'no', 'off'];

/**
 * An on/off variable: true, 1, yes, on or false, 0, no, off, in any case. Not z.stringbool: a bad value
 * there aborts the whole object, so whole-object checks (RESULT_S3_BUCKET with RESULT_STORE=s3) would not
 * run and start-up would name only the flag.
 */
export const envFlag = z
  .preprocess(
    (value) => (typeof value === 'string' ? value.toLowerCase() : value),
    // Spelled out: an enum's own message would list "0" and "1" first (object key order).
    z.enum([...TRUTHY, ...FALSY], {
      error: `Invalid option: expected one of ${[...TRUTHY, ...FALSY].map((v) => `"${v}"`).join('|')}`,
    }),
  )
  .transform((value) => TRUTHY.includes(value));

/** Building blocks shared by the apps' config schemas. */
export const envFields = {
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  /** A Redis Cluster instead (host:port of any of its nodes, comma-separated); REDIS_URL is then unused. */
  REDIS_CLUSTER_NODES: z
    .string()
    .regex(/^\s*[^\s,:]+:\d+\s*(,\s*[^\s,:]+:\d+\s*)*$/, 'must be host:port[,host:port…]')
    .optional(),
  REDIS_PREFIX: z
    .string()
    // No braces: the keys' hash tags ({bN}) must be the first braces in every key.
    .regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1-32 characters of A-Z, a-z, 0-9, _ and -')
    .default('cf'),
  /**
   * Buckets tenants are spread over (each a Redis Cluster hash slot; see docs/architecture.md). Every process
   * of a deployment must use the same number, fixed when the deployment is created.
   */
  REDIS_BUCKETS: z.coerce.number().int().min(1).max(1024).default(16),
  /**
   * Replicas that must acknowledge an accepted job or campaign before the API answers 202 (Redis WAIT), so a
   * failover of its master cannot lose it (replication is asynchronous). 0 with a single Redis; 1 with a
   * Redis Cluster or a replicated Redis. A replica that does not answer within the timeout delays, never fails.
   */
  REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).max(10).default(0),
  REDIS_WAIT_TIMEOUT_MS: z.coerce.number().int().min(1).max(10_000).default(250),
  /** Attempts per job before it fails for good (retryable failures only), and the first retry's delay. */
  JOB_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
  JOB_BACKOFF_MS: z.coerce.number().int().min(0).max(600_000).default(2000),
  MONGODB_URI: z.url({ protocol: /^mongodb(\+srv)?$/ }).optional(),
  /** Below a second so an unreachable MongoDB is a 503 within one; raise it on a replica set. */
  MONGODB_SERVER_SELECTION_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(500),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

/** The address clients reach the API at (result links use it): PUBLIC_BASE_URL, or the API's PORT on localhost. */
export const publicBaseUrlOf = (c: { PUBLIC_BASE_URL?: string; PORT: number }) =>
  (c.PUBLIC_BASE_URL ?? `http://localhost:${c.PORT}`).replace(/\/+$/, '');
