/**
 * bench:tenants' ONE adapter to castforge internals: how to start a worker process (its entry point and
 * variables) and how to submit and read jobs (the API's generation service and job store, in the bench
 * process, without HTTP). When the worker's configuration, the submit path or the job store change, this
 * file is the one to update.
 */
import { type Connection, type Logger, createRedis, createRegistry, waitForRedis } from '@castforge/core';
import { ApiConfig } from '@castforge/api/dist/config';
import { buildApiDeps } from '@castforge/api/dist/deps';

export interface WorkerProcessSettings {
  redisUrl: string;
  prefix: string;
  mongoUri: string;
  dataDir: string;
  endpoints: number;
  imageMs: number;
  /** The worker's /readyz, /metrics port. */
  metricsPort: number;
  workerId: string;
}

/** `node <entry>` with these variables starts a production worker process (apps/worker/src/index.ts). */
export function workerProcess(settings: WorkerProcessSettings): {
  entry: string;
  env: Record<string, string>;
} {
  return {
    entry: require.resolve('@castforge/worker/dist/index.js'),
    env: {
      REDIS_URL: settings.redisUrl,
      REDIS_PREFIX: settings.prefix,
      MONGODB_URI: settings.mongoUri,
      DATA_DIR: settings.dataDir,
      INFERENCE_BACKEND: 'simulated',
      INFERENCE_URLS: Array.from({ length: settings.endpoints }, (_, i) => `simulated://${i}`).join(','),
      INFERENCE_CONCURRENCY: '1',
      SIMULATED_IMAGE_MS: String(settings.imageMs),
      WORKER_METRICS_PORT: String(settings.metricsPort),
      WORKER_ID: settings.workerId,
      LOG_LEVEL: 'warn',
    },
  };
}

/** When a job was queued, started and finished (epoch ms), as its status record says. */
export interface JobTimes {
  status: string;
  queuedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

/** Submits and reads jobs the way POST /generate/image/v1 and GET …/status do, without HTTP. */
export async function createJobClient(deps: {
  redisUrl: string;
  prefix: string;
  mongo: Connection;
  logger: Logger;
}) {
  const redis = createRedis(deps.redisUrl, 'command', deps.logger, { connectionName: 'bench-submit' });
  await waitForRedis(redis, 5000);
  const api = await buildApiDeps(
    ApiConfig.parse({ REDIS_URL: deps.redisUrl, REDIS_PREFIX: deps.prefix, PORT: '0', LOG_LEVEL: 'silent' }),
    { redis, mongo: deps.mongo, logger: deps.logger, registry: createRegistry('api') },
  );
  const body = { prompt: 'a red fox in fresh snow', width: 64, height: 64, output_format: 'png' };
  const times = (r: Awaited<ReturnType<typeof api.jobs.read>>): JobTimes | null =>
    r && { status: r.status, queuedAt: r.queuedAt, startedAt: r.startedAt, finishedAt: r.finishedAt };
  return {
    async submit(tenantId: string): Promise<string> {
      return (await api.submit.submit('generate', tenantId, body)).job_id;
    },
    async read(tenantId: string, jobId: string): Promise<JobTimes | null> {
      return times(await api.jobs.read(tenantId, jobId));
    },
    async readMany(tenantId: string, jobIds: string[]): Promise<(JobTimes | null)[]> {
      return (await api.jobs.readMany(tenantId, jobIds)).map(times);
    },
    /** Jobs of the deployment not yet ended (queued, pending or processing). */
    async unfinished(): Promise<number> {
      const counts = await api.jobs.stateCounts();
      return counts.queued + counts.pending + counts.processing;
    },
    async close() {
      // The API keeps one BullMQ Queue per lane it has seen: with 10,000 tenants, 10,000 of them.
      await api.queues.close();
      await api.outbox.close();
      redis.disconnect();
    },
  };
}
export type JobClient = Awaited<ReturnType<typeof createJobClient>>;
