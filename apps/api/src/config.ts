import {
  envFields,
  envFlag,
  parseEnv,
  publicBaseUrlOf,
  resultBucketRequired,
  resultDirOf,
  resultStoreEnvFields,
} from '@castforge/core';
import { z } from 'zod';
import { adminEnvFields } from './admin/admin.config';
import { rateLimitEnvFields } from './limits/rate-limit.config';

export const ApiConfig = z
  .object({
    ...envFields,
    PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    PUBLIC_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
    API_KEYS: z.string().optional(),
    /** How long a validated API key is trusted without asking MongoDB again (a revocation waits this long). */
    API_KEY_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(5000),
    MAX_BODY_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(50 * 1024 * 1024)
      .default(1024 * 1024),
    ...rateLimitEnvFields,
    ...adminEnvFields,
    /** Jobs queued or running per tenant before new ones get 429; 0 turns the limit off. */
    TENANT_MAX_JOBS_IN_FLIGHT: z.coerce.number().int().min(0).default(200_000),
    /** Most jobs (profiles × scenes × variants) one campaign may make; more is a 422. */
    CAMPAIGN_MAX_JOBS: z.coerce.number().int().min(1).max(10_000_000).default(100_000),
    ...resultStoreEnvFields,
    CALLBACK_ALLOW_LOOPBACK: envFlag.default(false),
    /** Admits loopback input image URLs (local testing only), as CALLBACK_ALLOW_LOOPBACK does for callbacks. */
    INPUT_ALLOW_LOOPBACK: envFlag.default(false),
    /** When set, a job's status carries cost_usd: its inference seconds × this (SPEC §4). */
    GPU_COST_PER_SECOND_USD: z.coerce.number().min(0).optional(),
    /** Attempts per webhook delivery (1 + the workers' WEBHOOK_RETRY_DELAYS entries; 12 by default). */
    WEBHOOK_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(12),
    /** How long SIGTERM waits for in-flight requests before closing connections. */
    SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(120_000).default(10_000),
  })
  .check(resultBucketRequired)
  .transform((c) => ({
    ...c,
    PUBLIC_BASE_URL: publicBaseUrlOf(c),
    RESULT_DIR: resultDirOf(c),
  }));
export type ApiConfig = z.infer<typeof ApiConfig>;

export const loadConfig = (env: NodeJS.ProcessEnv = process.env): ApiConfig => parseEnv(ApiConfig, env);
