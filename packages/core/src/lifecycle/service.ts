import { ConfigError } from '../config/env';
import { type Logger, createLogger } from '../logging/logger';
import { createRegistry, type Registry } from '../metrics/registry';
import { type Connection, closeMongo, connectMongoWithRetry } from '../mongo/connection';
import { type Redis, type RedisRole, clusterNodesOf, createRedis } from '../redis/connection';
import { type Shutdown, createShutdown } from './shutdown';

interface ServiceConfig {
  LOG_LEVEL: string;
  SHUTDOWN_GRACE_MS: number;
  REDIS_URL: string;
  REDIS_CLUSTER_NODES?: string;
  MONGODB_URI?: string;
  MONGODB_SERVER_SELECTION_TIMEOUT_MS: number;
}

export interface Service<R extends RedisRole> {
  logger: Logger;
  shutdown: Shutdown;
  registry: Registry;
  redis: Record<R, Redis>;
  mongo: Connection;
}

/**
 * What the API and the workers do first: a logger, SIGTERM/SIGINT handling, the Redis clients of the
 * roles asked for, MongoDB (retried for a minute, since compose may start us first), a metrics registry;
 * each registered to be closed on shutdown in reverse order.
 */
export async function startService<R extends RedisRole>(
  name: string,
  config: ServiceConfig,
  redisRoles: readonly R[],
): Promise<Service<R>> {
  const logger = createLogger({ name, level: config.LOG_LEVEL });
  const shutdown = createShutdown(logger, config.SHUTDOWN_GRACE_MS + 5000);
  shutdown.listen();
  if (!config.MONGODB_URI) {
    throw new ConfigError([
      'MONGODB_URI: not set. `npm start` starts an embedded MongoDB and sets it for you.',
    ]);
  }
  const redis = Object.fromEntries(
    redisRoles.map((role) => [
      role,
      createRedis(
        { url: config.REDIS_URL, clusterNodes: clusterNodesOf(config.REDIS_CLUSTER_NODES) },
        role,
        logger,
      ),
    ]),
  ) as Record<R, Redis>;
  shutdown.add('redis', () => Promise.all(Object.values<Redis>(redis).map((client) => client.quit())));
  const mongo = await connectMongoWithRetry(
    { uri: config.MONGODB_URI, serverSelectionTimeoutMS: config.MONGODB_SERVER_SELECTION_TIMEOUT_MS, logger },
    60_000,
  );
  shutdown.add('mongodb', () => closeMongo(mongo));
  return { logger, shutdown, registry: createRegistry(name), redis, mongo };
}

/** Runs a composition root; a start-up failure is one readable line and exit code 1 (no logger yet, maybe). */
export function runMain(name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${name} failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
