import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { type ApiClient, apiClient } from '../load/api-client';
import { freePort } from '../support/ports';
import { until } from '../support/time';
import { type AppProcess, appProcess } from './app-process';
import { type GpuStub, startGpuStub } from './gpu-stub';
import { type OwnMongo, startOwnMongo } from './own-mongo';
import { type OwnRedis, startOwnRedis } from './own-redis';
import { type WebhookReceiver, startWebhookReceiver } from './webhook-receiver';

export interface WorldOptions {
  /** Everything the run writes: Redis' AOF, results, the apps' logs. */
  runDir: string;
  redisPort: number;
  /** MongoDB to use (a database name is added); unset starts an embedded one that the run may freeze. */
  mongoUri?: string;
  apis: number;
  workers: number;
  endpointsPerWorker: number;
  imageMs: number;
  /** WORKER_MAX_STALLED_COUNT per worker process, by index (cycled): e.g. [0, 1]. */
  maxStalled: number[];
  lockMs: number;
  stalledIntervalMs: number;
  tenants: string[];
  logLevel: string;
}

export interface World {
  options: WorldOptions;
  prefix: string;
  redis: OwnRedis;
  mongo: OwnMongo | null;
  apis: AppProcess[];
  workers: AppProcess[];
  /** The GPU endpoints of worker i are gpus[i]: each worker has GPUs of its own, as in production. */
  gpus: GpuStub[][];
  receiver: WebhookReceiver;
  keys: Record<string, string>;
  client: ApiClient;
  apiUrls: string[];
  /** Jobs a worker can hold on GPUs at once (endpoints × INFERENCE_CONCURRENCY 1). */
  slotsPerWorker: number;
  gpuCalls(): number;
  callsByJob(): Map<string, number>;
  stop(): Promise<void>;
}

/**
 * The world a chaos run owns from start to end: its own redis-server (AOF), MongoDB, API and worker
 * processes from the apps' dist folders, GPU stubs and a webhook receiver. Nothing is shared with other runs or
 * with the developer's Redis, so faults can be injected freely.
 */
export async function startWorld(options: WorldOptions): Promise<World> {
  mkdirSync(options.runDir, { recursive: true });
  const logDir = path.join(options.runDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const prefix = 'chaos';
  const stops: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const redis = await startOwnRedis({ port: options.redisPort, dir: path.join(options.runDir, 'redis') });
    stops.push(() => redis.stop());
    const mongo = options.mongoUri ? null : await startOwnMongo();
    if (mongo) stops.push(() => mongo.stop());
    const mongoBase = options.mongoUri ?? mongo!.uri;
    const mongoUri = `${mongoBase.replace(/\/+$/, '')}/chaos_${randomBytes(3).toString('hex')}`;

    const gpus: GpuStub[][] = [];
    for (let w = 0; w < options.workers; w++) {
      const row: GpuStub[] = [];
      for (let e = 0; e < options.endpointsPerWorker; e++) row.push(await startGpuStub(options));
      gpus.push(row);
    }
    stops.push(() => Promise.all(gpus.flat().map((g) => g.close())));
    const receiver = await startWebhookReceiver();
    stops.push(() => receiver.close());

    const keys = Object.fromEntries(
      options.tenants.map((t) => [t, `cfk_${t}_${randomBytes(18).toString('base64url')}`]),
    );
    const shared = {
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      MONGODB_URI: mongoUri,
      DATA_DIR: path.join(options.runDir, 'data'),
      LOG_LEVEL: options.logLevel,
      CALLBACK_ALLOW_LOOPBACK: 'true',
    };
    const apiPorts = await Promise.all(Array.from({ length: options.apis }, () => freePort()));
    const apiUrls = apiPorts.map((port) => `http://127.0.0.1:${port}`);
    const apis = apiPorts.map((port, i) =>
      appProcess({
        name: `api-${i + 1}`,
        kind: 'api',
        logDir,
        env: {
          ...shared,
          PORT: String(port),
          PUBLIC_BASE_URL: apiUrls[0]!,
          API_KEYS: Object.entries(keys)
            .map(([tenant, key]) => `${tenant}:${key}`)
            .join(','),
          // The limiter is per process and not what is under test; it would only slow the read-back.
          RATE_LIMIT_RPS: '0',
          // Bounds what the fuzzer's valid-looking campaigns can make.
          CAMPAIGN_MAX_JOBS: '2000',
          JOB_BACKOFF_MS: '200',
          SHUTDOWN_GRACE_MS: '2000',
        },
      }),
    );
    stops.push(() => Promise.all(apis.map((a) => a.stop(5000))));
    const client = apiClient(apiUrls);
    for (const url of apiUrls) {
      await until(async () => (await fetch(`${url}/readyz`)).ok, {
        timeoutMs: 60_000,
        intervalMs: 100,
        what: `the API at ${url} to be ready`,
      });
    }

    const workers = gpus.map((endpoints, i) =>
      appProcess({
        name: `worker-${i + 1}`,
        kind: 'worker',
        logDir,
        env: {
          ...shared,
          PUBLIC_BASE_URL: apiUrls[0]!,
          WORKER_METRICS_PORT: '0',
          INFERENCE_BACKEND: 'a1111',
          INFERENCE_URLS: endpoints.map((g) => g.url).join(','),
          INFERENCE_CONCURRENCY: '1',
          WORKER_LOCK_DURATION_MS: String(options.lockMs),
          WORKER_STALLED_INTERVAL_MS: String(options.stalledIntervalMs),
          WORKER_MAX_STALLED_COUNT: String(options.maxStalled[i % options.maxStalled.length]),
          JOB_TIMEOUT_SECONDS: '60',
          SHUTDOWN_GRACE_MS: '5000',
          // Failed deliveries come back within seconds, so a 500-then-200 receiver is served in the run.
          WEBHOOK_RETRY_DELAYS: '1,1,2,2,3,3',
        },
      }),
    );
    stops.push(() => Promise.all(workers.map((w) => w.stop(10_000))));

    for (const tenant of options.tenants) {
      const answer = await client.request<{ secret: string }>('GET', '/webhooks/v1/secret', {
        key: keys[tenant],
      });
      if (answer.status !== 200) throw new Error(`GET /webhooks/v1/secret for ${tenant}: ${answer.status}`);
      receiver.trust(tenant, answer.body.secret);
    }

    return {
      options,
      prefix,
      redis,
      mongo,
      apis,
      workers,
      gpus,
      receiver,
      keys,
      client,
      apiUrls,
      slotsPerWorker: options.endpointsPerWorker,
      gpuCalls: () => gpus.flat().reduce((sum, g) => sum + g.calls, 0),
      callsByJob: () => {
        const all = new Map<string, number>();
        for (const gpu of gpus.flat())
          for (const [job, n] of gpu.callsByJob) all.set(job, (all.get(job) ?? 0) + n);
        return all;
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
