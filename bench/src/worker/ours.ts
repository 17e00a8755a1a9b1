/**
 * bench:worker's ONE adapter to castforge internals: jobs submitted through the API's generation service
 * (what POST /generate/image/v1 calls, without HTTP), and the real worker pool (createWorkerPool) with
 * either the bench's zero-time backend (a fake at our InferenceBackend seam) or the real simulated
 * renderer. When the pool, the job store or the submit path change, this file is the one to update.
 */
import { type Connection, type Logger, createRedis, createRegistry, waitForRedis } from '@castforge/core';
import { ApiConfig } from '@castforge/api/dist/config';
import { buildApiDeps } from '@castforge/api/dist/deps';
import { WorkerConfig } from '@castforge/worker/dist/config';
import { type InferenceBackend } from '@castforge/worker/dist/inference/inference-backend';
import { createWorkerPool } from '@castforge/worker/dist/pool';

export type OursBackend = 'zero' | 'simulated';

export interface OursSettings {
  redisUrl: string;
  prefix: string;
  mongo: Connection;
  logger: Logger;
  /** The disk result store's folder. */
  dataDir: string;
  endpoints: number;
  size: number;
  backend: OursBackend;
  /** What the zero-time backend returns for every job: PNG bytes of `size`×`size`. */
  image: Buffer;
}

export const TENANT = 'bench';

/**
 * A GPU that takes no time: it reports every step's progress at once (as a fast backend would, so the
 * progress path runs as it does in production) and returns the same PNG, already in the requested
 * format, so the worker only checks its header and stores it.
 */
function zeroTimeBackend(image: Buffer): InferenceBackend {
  return {
    name: 'bench-zero',
    defaults: { steps: 20, guidance: 7 },
    operations: new Set(['generate']),
    run(_endpoint, request) {
      for (let step = 1; step <= request.steps; step++) request.onProgress(step / request.steps);
      return Promise.resolve({ image, seed: request.seed });
    },
  };
}

export async function createOursSide(settings: OursSettings) {
  const { logger, mongo } = settings;
  const common = {
    REDIS_URL: settings.redisUrl,
    REDIS_PREFIX: settings.prefix,
    DATA_DIR: settings.dataDir,
    LOG_LEVEL: 'silent',
  };
  const command = createRedis(settings.redisUrl, 'command', logger);
  const redis = createRedis(settings.redisUrl, 'worker', logger);
  const subscriber = createRedis(settings.redisUrl, 'subscriber', logger);
  await Promise.all([waitForRedis(command, 5000), waitForRedis(redis, 5000)]);
  const api = await buildApiDeps(ApiConfig.parse({ ...common, PORT: '0' }), {
    redis: command,
    mongo,
    logger,
    registry: createRegistry('api'),
  });
  const config = WorkerConfig.parse({
    ...common,
    INFERENCE_URLS: Array.from({ length: settings.endpoints }, (_, i) => `simulated://${i}`).join(','),
    INFERENCE_CONCURRENCY: '1',
    SIMULATED_IMAGE_MS: '0',
    WORKER_ID: `bench-${settings.prefix}`,
  });
  let onEnded: (jobId: string) => void = () => undefined;
  const pool = await createWorkerPool(
    config,
    { redis, subscriber, mongo, logger, registry: createRegistry('worker') },
    {
      ...(settings.backend === 'zero' && { backend: zeroTimeBackend(settings.image) }),
      onJobEnded: (jobId) => onEnded(jobId),
    },
  );
  const body = { prompt: 'a red fox in fresh snow', width: settings.size, height: settings.size };

  return {
    /** Queues `n` jobs the way POST /generate/image/v1 does (`parallel` at a time); returns their ids. */
    async submit(n: number, parallel = 32): Promise<string[]> {
      const ids: string[] = [];
      let next = 0;
      const lane = async () => {
        while (next < n) {
          next++;
          ids.push((await api.submit.submit('generate', TENANT, { ...body, output_format: 'png' })).job_id);
        }
      };
      await Promise.all(Array.from({ length: parallel }, lane));
      return ids;
    },
    /** Starts the pool; `ended` is called once per job that ends (completed or failed). */
    async start(ended: (jobId: string) => void) {
      onEnded = ended;
      await pool.start();
    },
    /** How many of `ids` completed (the rest failed or never ended). */
    async completed(ids: string[]): Promise<number> {
      const records = await api.jobs.readMany(TENANT, ids);
      return records.filter((r) => r?.status === 'completed').length;
    },
    async close() {
      await pool.close();
      await api.queues.close();
      await api.outbox.close();
      command.disconnect();
      redis.disconnect();
      subscriber.disconnect();
    },
  };
}
export type OursSide = Awaited<ReturnType<typeof createOursSide>>;
