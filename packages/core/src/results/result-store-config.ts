import path from 'node:path';
import { z } from 'zod';
import { envFlag } from '../config/env';
import { type ResultStore, createDiskResultStore } from './result-store';
import { createS3ResultStore } from './s3-result-store';

/**
 * The result store's variables, shared by the API (which serves and expires results) and the workers
 * (which store, sign and sweep them): both must point at the same store, keep results as long and sign
 * their links with the same secret, so they parse these the same way.
 */
export const resultStoreEnvFields = {
  DATA_DIR: z.string().default(path.resolve('.data')),
  /** Unset means DATA_DIR/results (see resultDirOf). */
  RESULT_DIR: z.string().optional(),
  /** `disk` (RESULT_DIR, shared by API and workers) or `s3` (a bucket, AWS or S3-compatible). */
  RESULT_STORE: z.enum(['disk', 's3']).default('disk'),
  RESULT_S3_BUCKET: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,255}$/, 'must be a bucket name (letters, digits, dots, hyphens)')
    .optional(),
  RESULT_S3_PREFIX: z.string().optional(),
  RESULT_S3_REGION: z.string().min(1).default('us-east-1'),
  /** For S3-compatible stores (MinIO, R2, …); unset means AWS S3. */
  RESULT_S3_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  RESULT_S3_FORCE_PATH_STYLE: envFlag.default(false),
  RESULT_TTL_SECONDS: z.coerce.number().int().min(10).max(86_400).default(86_400),
  RESULT_SIGNING_SECRET: z.string().min(32).optional(),
};

/** Where disk results live: RESULT_DIR, or DATA_DIR/results when it is unset. */
export const resultDirOf = (c: { DATA_DIR: string; RESULT_DIR?: string }) =>
  c.RESULT_DIR ?? path.join(c.DATA_DIR, 'results');

interface ResultStoreChoice {
  RESULT_STORE?: unknown;
  RESULT_S3_BUCKET?: unknown;
}

/**
 * RESULT_STORE=s3 needs a bucket. A check on the whole object because it joins two variables; `when`
 * runs it even if other variables are bad, so start-up still names every bad variable in one message.
 */
export const resultBucketRequired = z.refine<ResultStoreChoice>(
  (c) => c.RESULT_STORE !== 's3' || c.RESULT_S3_BUCKET !== undefined,
  {
    path: ['RESULT_S3_BUCKET'],
    message: 'is required when RESULT_STORE=s3 (the bucket results are kept in)',
    when: () => true,
  },
);

export interface ResultStoreConfig {
  RESULT_STORE: 'disk' | 's3';
  RESULT_DIR: string;
  RESULT_S3_BUCKET?: string;
  RESULT_S3_PREFIX?: string;
  RESULT_S3_REGION: string;
  RESULT_S3_ENDPOINT?: string;
  RESULT_S3_FORCE_PATH_STYLE: boolean;
}

/** The one place the store is chosen, so the API and the workers cannot disagree about where results live. */
export function createResultStore(config: ResultStoreConfig): ResultStore {
  if (config.RESULT_STORE === 'disk') return createDiskResultStore(config.RESULT_DIR);
  if (!config.RESULT_S3_BUCKET) throw new Error('RESULT_S3_BUCKET is required when RESULT_STORE=s3');
  return createS3ResultStore({
    bucket: config.RESULT_S3_BUCKET,
    prefix: config.RESULT_S3_PREFIX,
    region: config.RESULT_S3_REGION,
    endpoint: config.RESULT_S3_ENDPOINT,
    forcePathStyle: config.RESULT_S3_FORCE_PATH_STYLE,
  });
}
