import mongoose, { type Connection } from 'mongoose';
import { type Logger } from '../logging/logger';

export type { Connection };

/** Connections being closed on purpose, so their disconnect is not reported as an outage. */
const closing = new WeakSet<Connection>();

export async function closeMongo(connection: Connection): Promise<void> {
  closing.add(connection);
  await connection.close();
}

export interface MongoOptions {
  uri: string;
  dbName?: string;
  /** How long an operation waits for a reachable server before failing (the API answers 503 then). */
  serverSelectionTimeoutMS: number;
  logger: Logger;
}

/**
 * Opens a mongoose connection that never buffers: while MongoDB is unreachable, an operation fails
 * after `serverSelectionTimeoutMS` instead of queueing for 10 s (notes/bullmq.md §2.4), and the
 * driver reconnects on its own when the server returns. `autoCreate` is off because collections are
 * created implicitly by the first write on every server we support, including the embedded one.
 */
export async function connectMongo(options: MongoOptions): Promise<Connection> {
  const { logger } = options;
  const connection = mongoose.createConnection(options.uri, {
    dbName: options.dbName,
    autoCreate: false,
    autoIndex: false,
    bufferCommands: false,
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMS,
    heartbeatFrequencyMS: 2000,
    maxPoolSize: 20,
  });
  let down = false;
  connection.on('disconnected', () => {
    if (!down && !closing.has(connection)) logger.warn('mongodb disconnected; the driver keeps retrying');
    down = true;
  });
  connection.on('reconnected', () => {
    if (down) logger.info('mongodb connection restored');
    down = false;
  });
  connection.on('error', (err: Error) => logger.warn({ err: err.message }, 'mongodb error'));
  await connection.asPromise();
  return connection;
}

/** Retries the first connection, which mongoose does not do by itself, until `deadlineMs` passes. */
export async function connectMongoWithRetry(options: MongoOptions, deadlineMs: number): Promise<Connection> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectMongo(options);
    } catch (err) {
      if (Date.now() - started > deadlineMs) throw err;
      options.logger.warn({ attempt, err: (err as Error).message }, 'mongodb not reachable yet; retrying');
      await new Promise((r) => setTimeout(r, Math.min(250 * attempt, 2000)));
    }
  }
}

export const isMongoConnected = (connection: Connection) =>
  connection.readyState === mongoose.ConnectionStates.connected;

/** A cheap liveness probe for /readyz. */
export async function pingMongo(connection: Connection, timeoutMs: number): Promise<boolean> {
  const db = connection.db;
  if (!db) return false;
  try {
    await db.admin().command({ ping: 1 }, { timeoutMS: timeoutMs });
    return true;
  } catch {
    return false;
  }
}

/**
 * /readyz for the API and the workers (SPEC §10): ready when Redis and MongoDB both answer, with which
 * one does not.
 */
export async function readiness(
  redis: { ping(): Promise<unknown> },
  connection: Connection,
): Promise<{ ready: boolean; body: { status: string; checks: { redis: string; mongodb: string } } }> {
  const [redisUp, mongoUp] = await Promise.all([
    redis.ping().then(
      () => true,
      () => false,
    ),
    pingMongo(connection, 800),
  ]);
  const ready = redisUp && mongoUp;
  return {
    ready,
    body: {
      status: ready ? 'ready' : 'unavailable',
      checks: { redis: redisUp ? 'ok' : 'down', mongodb: mongoUp ? 'ok' : 'down' },
    },
  };
}
