import { Redis, type RedisOptions } from 'ioredis';
import { type Logger } from '../logging/logger';

export type { Redis };

export type RedisRole =
  /** Request-path commands: fail fast (503) instead of queueing while Redis is away. */
  | 'command'
  /** BullMQ workers and blocking reads: wait for Redis to come back, never give up. */
  | 'worker'
  /** Pub/sub subscribers. */
  | 'subscriber';

/**
 * One place decides how each kind of Redis client behaves when Redis is slow or gone
 * (notes/bullmq.md §2.1): HTTP-facing clients fail fast so the API answers 503 within a second,
 * while workers wait with ioredis' default reconnect back-off.
 */
export function createRedis(url: string, role: RedisRole, logger: Logger, extra: RedisOptions = {}): Redis {
  const common: RedisOptions = {
    connectionName: `castforge-${role}`,
    connectTimeout: 2000,
    // Reconnect quickly at first, then every 2 s: an outage should end in seconds once Redis is back.
    retryStrategy: (times) => Math.min(100 * times, 2000),
  };
  const byRole: Record<RedisRole, RedisOptions> = {
    command: { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000 },
    worker: { maxRetriesPerRequest: null, enableReadyCheck: true },
    // No ready check: its INFO would race a SUBSCRIBE sent while connecting and be refused.
    subscriber: { maxRetriesPerRequest: null, enableReadyCheck: false },
  };
  const client = new Redis(url, { ...common, ...byRole[role], ...extra });
  // ioredis emits an error per failed reconnect attempt; one line per outage is enough.
  let down = false;
  let everReady = false;
  client.on('ready', () => {
    if (down && everReady) logger.info({ role }, 'redis connection restored');
    down = false;
    everReady = true;
  });
  client.on('error', (err: Error) => {
    if (!down) logger.warn({ role, err: err.message }, 'redis connection error; reconnecting');
    down = true;
  });
  return client;
}

/** Waits until the client is ready, or rejects after `timeoutMs`. */
export async function waitForRedis(client: Redis, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
    };
    client.on('ready', onReady);
  });
}
