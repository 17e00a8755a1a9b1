import { existsSync } from 'node:fs';
import path from 'node:path';
import { resultStoreEnvFields } from '@castforge/core';
import { z } from 'zod';
import { startApp, stopProcess } from './processes';
import { readStackFile } from './stack-file';

const say = (line: string) => process.stdout.write(`[worker] ${line}\n`);

const AddWorkerConfig = z.object({
  DATA_DIR: resultStoreEnvFields.DATA_DIR,
  LOG_FORMAT: z.enum(['pretty', 'json']).optional(),
});

/**
 * `npm run worker`: one more worker process for a running `npm start`, found the way `npm run keys` finds
 * it (DATA_DIR/stack.json): the same MongoDB, Redis, key prefix and result directory. MONGODB_URI,
 * REDIS_URL and REDIS_PREFIX in the environment win over the file, so it can also join a stack started
 * elsewhere. Its own metrics port is a free one unless WORKER_METRICS_PORT says otherwise (the stack's
 * worker has 9091). It runs in the foreground; Ctrl-C stops it (running jobs finish first).
 */
async function main(): Promise<number> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = AddWorkerConfig.parse(process.env);
  const stack = readStackFile(config.DATA_DIR);
  const mongo = process.env.MONGODB_URI ?? stack?.mongodb_uri;
  const redis = process.env.REDIS_URL ?? stack?.redis_url;
  if (!mongo || !redis) {
    throw new Error(
      `no running stack in ${path.resolve(config.DATA_DIR, 'stack.json')}: start one with \`npm start\`, ` +
        'or set MONGODB_URI and REDIS_URL to the stores of the deployment to join',
    );
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MONGODB_URI: mongo,
    REDIS_URL: redis,
    REDIS_PREFIX: process.env.REDIS_PREFIX ?? stack?.redis_prefix ?? 'cf',
    DATA_DIR: stack?.data_dir ?? config.DATA_DIR,
    WORKER_METRICS_PORT: process.env.WORKER_METRICS_PORT ?? '0',
    // As `npm start` runs its own worker: loopback input images and callbacks admitted for local development.
    ...(stack && {
      INPUT_ALLOW_LOOPBACK: process.env.INPUT_ALLOW_LOOPBACK ?? 'true',
      CALLBACK_ALLOW_LOOPBACK: process.env.CALLBACK_ALLOW_LOOPBACK ?? 'true',
    }),
  };
  say(
    `joining ${stack ? `the stack at ${stack.api_url}` : 'the stores of the environment'} (Redis ${redis})`,
  );
  const format = config.LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const worker = startApp('worker', path.resolve(__dirname, '../../worker/dist/index.js'), env, format);
  // Past the worker's own drain time (SHUTDOWN_GRACE_MS, default 30 s), so it hands long jobs back itself.
  const grace = Number(process.env.SHUTDOWN_GRACE_MS ?? 30_000) + 10_000;
  const stop = () => void stopProcess(worker.child, Number.isFinite(grace) ? grace : 40_000);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.once('exit', () => worker.child.exitCode === null && worker.child.kill('SIGKILL'));
  return worker.exited;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[worker] ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
