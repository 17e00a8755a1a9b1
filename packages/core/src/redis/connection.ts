import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { type Logger } from '../logging/logger';
// Before any client exists: a command sent again by a Cluster retry keeps its commandTimeout.
import './command-timeout-fix';

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
/**
 * Where Redis is: one server (REDIS_URL), or a Redis Cluster (REDIS_CLUSTER_NODES, `host:port,…`; any of its
 * nodes will do, the client discovers the rest). A URL may stand alone: `createRedis(url, …)`.
 */
export interface RedisTarget {
  url: string;
  clusterNodes?: readonly string[];
}

/** Parses REDIS_CLUSTER_NODES (`host:port,host:port`) into ioredis' startup nodes. */
export function clusterNodesOf(value: string | undefined): string[] | undefined {
  const nodes = (value ?? '')
    .split(',')
    .map((node) => node.trim())
    .filter(Boolean);
  return nodes.length ? nodes : undefined;
}

/**
 * A client of the role asked for. With a cluster this is an ioredis `Cluster`: every command and script of the
 * project touches keys of one hash slot (see jobs/keys.ts), which is all a Cluster client needs to route it,
 * so the rest of the code uses it as it uses a single server's client (hence the `Redis` type).
 */
export function createRedis(
  target: string | RedisTarget,
  role: RedisRole,
  logger: Logger,
  extra: RedisOptions = {},
): Redis {
  const { url, clusterNodes } =
    typeof target === 'string' ? { url: target, clusterNodes: undefined } : target;
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
  const options = { ...common, ...byRole[role], ...extra };
  const client = clusterNodes?.length
    ? (new Cluster(
        clusterNodes.map((node) => {
          const [host, port] = node.split(':');
          return { host: host ?? '127.0.0.1', port: Number(port ?? 6379) };
        }),
        {
          redisOptions: options,
          // A moved slot (failover, resharding) is followed; the command is retried meanwhile.
          enableOfflineQueue: options.enableOfflineQueue ?? true,
          ...(role === 'command' ? {} : { maxRedirections: 64, retryDelayOnFailover: 200 }),
          clusterRetryStrategy: (times: number) => Math.min(100 * times, 2000),
          ...(options.enableReadyCheck === false && { enableReadyCheck: false }),
        },
      ) as unknown as Redis)
    : new Redis(url, options);
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

/** Every key matching `pattern`, on every master of a cluster or on the one server. */
export async function scanKeys(client: Redis, pattern: string, count = 1000): Promise<string[]> {
  const nodes = isCluster(client) ? (client as unknown as Cluster).nodes('master') : [client];
  const found: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
  }
  return found;
}

export const isCluster = (client: Redis): boolean =>
  (client as unknown as { isCluster?: boolean }).isCluster === true;

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

/**
 * Waits until `replicas` replicas acknowledged this client's writes to `key`'s shard (Redis `WAIT`), so a
 * failover right after cannot lose what was just accepted (replication is asynchronous; SPEC §14). In a
 * cluster WAIT must go to the master that took the writes, on the connection that sent them. 0 replicas: a
 * no-op. Resolves with how many acknowledged; a timeout is not an error (the write is in, only less safe).
 */
export async function waitForReplicas(
  client: Redis,
  key: string,
  replicas: number,
  timeoutMs: number,
): Promise<number> {
  if (replicas <= 0) return 0;
  if (!isCluster(client)) return client.wait(replicas, timeoutMs);
  // ioredis keeps the slot → node map and the node connections as fields, not methods; read them as such.
  const cluster = client as unknown as {
    slots: string[][];
    connectionPool: { getInstanceByKey(nodeKey: string): Redis | undefined };
  };
  const nodeKey = cluster.slots[calculateSlot(key)]?.[0];
  const node = nodeKey ? cluster.connectionPool.getInstanceByKey(nodeKey) : undefined;
  return node ? node.wait(replicas, timeoutMs) : 0;
}
