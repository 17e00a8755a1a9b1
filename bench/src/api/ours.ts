/**
 * bench:api's ONE adapter to castforge internals: the real API app, built the way apps/api/src/index.ts
 * builds it (ApiConfig from variables, buildApiDeps + createApp via startEmbeddedApi), with pino at `info`
 * writing to this process's stdout (the bench points it at a file) and the rate limit off. When the API's
 * wiring changes, this file is the one to update; the rest of the bench speaks HTTP only.
 */
import { closeMongo, connectMongo, createLogger, createRedis } from '@castforge/core';
import { ApiConfig } from '@castforge/api/dist/config';
import { startEmbeddedApi } from '@castforge/api/dist/embedded';
import { type ServerSettings, type StartedServer } from './server-settings';

export async function startOurs(settings: ServerSettings): Promise<StartedServer> {
  const config = ApiConfig.parse({
    PORT: '0',
    REDIS_URL: settings.redisUrl,
    REDIS_PREFIX: settings.prefix,
    MONGODB_URI: settings.mongoUri,
    DATA_DIR: settings.dataDir,
    LOG_LEVEL: 'info',
    // The bench measures cost per request; a per-key limit would measure the limit instead.
    RATE_LIMIT_RPS: '0',
  });
  // What startService does in index.ts, minus the signal handlers (the bench stops this process).
  const logger = createLogger({ name: 'api', level: config.LOG_LEVEL });
  const redis = createRedis(config.REDIS_URL, 'command', logger);
  const mongo = await connectMongo({
    uri: config.MONGODB_URI!,
    serverSelectionTimeoutMS: config.MONGODB_SERVER_SELECTION_TIMEOUT_MS,
    logger,
  });
  const api = await startEmbeddedApi(config, { redis, mongo, logger }, 'bench');
  return {
    port: Number(new URL(api.baseUrl).port),
    apiKey: await api.keyFor(settings.tenant),
    async close() {
      await api.close();
      redis.disconnect();
      await closeMongo(mongo);
      logger.flush();
    },
  };
}
