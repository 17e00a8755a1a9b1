import { randomBytes } from 'node:crypto';
import {
  type Connection,
  type EmbeddedMongo,
  type Logger,
  type Redis,
  closeMongo,
  connectMongo,
  createLogger,
  createRedis,
  startEmbeddedMongo,
  waitForRedis,
} from '@castforge/core';

/**
 * The stores a bench runs against: the shared Redis (every key under a prefix of the bench's own, deleted
 * afterwards; never FLUSHDB, other people's tests use the same server) and an embedded MongoDB started here.
 */
export interface BenchServices {
  redisUrl: string;
  mongo: Connection;
  mongoUri: string;
  logger: Logger;
  /** A Redis client that waits out slow replies: for set-up, clean-up and bulk fills. */
  admin: Redis;
  redisVersion: string;
  close(): Promise<void>;
}

/** A Redis prefix no one else uses (REDIS_PREFIX allows letters, digits, `_`, `-`; at most 32). */
export const newPrefix = (name: string) => `bench-${name}-${randomBytes(3).toString('hex')}`;

export async function openServices(name: string, redisUrl: string): Promise<BenchServices> {
  // The apps log through pino; a bench keeps them quiet unless BENCH_LOG_LEVEL asks otherwise.
  const logger = createLogger({ name: `bench-${name}`, level: process.env.BENCH_LOG_LEVEL ?? 'silent' });
  const admin = createRedis(redisUrl, 'worker', logger);
  await waitForRedis(admin, 5000).catch(() => {
    throw new Error(`Redis is not answering at ${redisUrl} (see CONTRIBUTING.md)`);
  });
  const info = await admin.info('server');
  const embedded: EmbeddedMongo = await startEmbeddedMongo();
  const mongo = await connectMongo({
    uri: embedded.uri,
    dbName: `bench_${name}`,
    serverSelectionTimeoutMS: 3000,
    logger,
  });
  return {
    redisUrl,
    mongo,
    mongoUri: `${embedded.uri}/bench_${name}`,
    logger,
    admin,
    redisVersion: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    async close() {
      await closeMongo(mongo).catch(() => undefined);
      await embedded.stop();
      admin.disconnect();
    },
  };
}

/** Deletes every key under `<prefix>:` with SCAN + UNLINK (memory is freed in Redis' background thread). */
export async function deleteUnder(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

/**
 * Ctrl-C during a 1M-job fill must not leave a gigabyte in the shared Redis: the clean-up runs first,
 * then the process exits. The same goes for a closed stdout (`npm run bench:status | head`), which would
 * otherwise kill the process mid-run. Returns a function that removes the handlers.
 */
export function cleanUpOnInterrupt(cleanUp: () => Promise<unknown>): () => void {
  let exiting = false;
  const exit = (reason: string, code: number) => {
    if (exiting) return;
    exiting = true;
    process.stderr.write(`\n${reason}: cleaning up before exit…\n`);
    void cleanUp()
      .catch((err: unknown) => process.stderr.write(`clean-up failed: ${String(err)}\n`))
      .finally(() => process.exit(code));
  };
  const onSignal = (signal: NodeJS.Signals) => exit(signal, 130);
  const onStdoutError = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') exit('stdout closed', 141);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.stdout.on('error', onStdoutError);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.stdout.off('error', onStdoutError);
  };
}
