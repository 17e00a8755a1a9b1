import { randomBytes } from 'node:crypto';
import {
  type EmbeddedMongo,
  connectMongo,
  createRedis,
  startEmbeddedMongo,
  waitForRedis,
} from '@castforge/core';
import { type TestServices, deleteKeys, redisOfEnv, testLogger } from './services';

export interface OwnMongoServices extends TestServices {
  /** The embedded MongoDB of this test alone, which it may kill and start again. */
  embedded: EmbeddedMongo;
  /** Starts the embedded server again on the same port (in memory: its data is gone). */
  restartMongo(): Promise<void>;
}

/**
 * Services like `openServices`, but on a MongoDB server of the test's own, so the test can take it down
 * without touching any other test file. The connection fails fast like the API's own
 * (`serverSelectionTimeoutMS` 1000, its default), so an outage is answered within about a second.
 */
export async function openServicesOnOwnMongo(name: string): Promise<OwnMongoServices> {
  let embedded = await startEmbeddedMongo();
  const port = embedded.port;
  const { redisUrl, redisTarget, redisEnv } = redisOfEnv();
  const suffix = randomBytes(4).toString('hex');
  const dbName = `t_${name.replace(/[^a-z0-9]/gi, '_').slice(0, 40)}_${suffix}`;
  const prefix = `t${suffix}`;
  const logger = testLogger(name);
  const mongo = await connectMongo({ uri: embedded.uri, dbName, serverSelectionTimeoutMS: 1000, logger });
  const redis = createRedis(redisTarget, 'command', logger);
  await waitForRedis(redis, 5000);
  const services: OwnMongoServices = {
    mongo,
    mongoUri: embedded.uri,
    dbName,
    redis,
    redisUrl,
    redisTarget,
    redisEnv,
    prefix,
    logger,
    embedded,
    async restartMongo() {
      embedded = await startEmbeddedMongo({ port });
      services.embedded = embedded;
    },
    async close() {
      await deleteKeys(redis, `${prefix}:*`).catch(() => undefined);
      await mongo.close(true).catch(() => undefined);
      redis.disconnect();
      await services.embedded.stop();
    },
  };
  return services;
}
