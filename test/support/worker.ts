import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Logger, type Registry, createRedis, createRegistry } from '@castforge/core';
import { WorkerConfig } from '../../apps/worker/src/config';
import { type InferenceBackend } from '../../apps/worker/src/inference/inference-backend';
import { createWorkerPool, type WorkerPool } from '../../apps/worker/src/pool';
import { type TestServices, testLogger } from './services';

/** The env a worker of this test file needs to share Redis, MongoDB and result files with its API. */
export function workerEnv(services: TestServices, env: Record<string, string> = {}): Record<string, string> {
  return {
    ...services.redisEnv,
    REDIS_PREFIX: services.prefix,
    MONGODB_URI: `${services.mongoUri}/${services.dbName}`,
    DATA_DIR: path.join(tmpdir(), `castforge-test-${services.prefix}`),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    WORKER_METRICS_PORT: '0',
    SIMULATED_STEP_MS: '5',
    ...env,
  };
}

export interface WorkerHarness {
  pool: WorkerPool;
  /** The pool's prom-client registry: what the worker's GET /metrics would show. */
  registry: Registry;
  close(): Promise<void>;
}

/** A worker pool in this process, with connections of its own, against the test file's services. */
export async function startWorker(
  services: TestServices,
  env: Record<string, string> = {},
  overrides: {
    backend?: InferenceBackend;
    /** Where the pool logs (a test that reads its lines); silent otherwise. */
    logger?: Logger;
  } = {},
): Promise<WorkerHarness> {
  const config = WorkerConfig.parse({
    WORKER_ID: `test-${Math.random().toString(36).slice(2, 8)}`,
    ...workerEnv(services, env),
  });
  const { logger: ownLogger, ...poolOverrides } = overrides;
  const logger = ownLogger ?? testLogger('worker');
  const redis = createRedis(services.redisTarget, 'worker', logger);
  const subscriber = createRedis(services.redisTarget, 'subscriber', logger);
  const registry = createRegistry('worker');
  const pool = await createWorkerPool(
    config,
    { redis, subscriber, mongo: services.mongo, logger, registry },
    poolOverrides,
  );
  await pool.start();
  return {
    pool,
    registry,
    async close() {
      await pool.close();
      redis.disconnect();
      subscriber.disconnect();
    },
  };
}

export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves with the exit code (or 128+ when killed by a signal). */
  exited: Promise<number>;
  /** What the process wrote to stderr so far; only collected when spawned with `{ captureStderr: true }`. */
  stderr(): string;
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/**
 * A real worker process (apps/worker/dist, built by `npm test` before jest runs), for tests that kill it.
 * `captureStderr` keeps what it writes there (a start-up failure's message) for `stderr()`.
 */
export function spawnWorker(
  services: TestServices,
  env: Record<string, string> = {},
  options: { captureStderr?: boolean } = {},
): WorkerProcess {
  const script = path.resolve(__dirname, '../../apps/worker/dist/index.js');
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...workerEnv(services, env) },
    stdio: [
      'ignore',
      'ignore',
      options.captureStderr ? 'pipe' : process.env.TEST_LOG_LEVEL ? 'inherit' : 'ignore',
    ],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    if (process.env.TEST_LOG_LEVEL) process.stderr.write(chunk);
  });
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 137 : 1))),
  );
  return {
    child,
    exited,
    stderr: () => stderr,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
