import { tmpdir } from 'node:os';
import { ApiConfig } from '../../apps/api/src/config';
import { type EmbeddedApi, startEmbeddedApi } from '../../apps/api/src/embedded';
import { type TestServices, openServices } from './services';

export interface ApiHarness extends EmbeddedApi {
  services: TestServices;
}

/** The API of one test file: createApp mounted on port 0 against the real Redis and MongoDB. */
export async function startApi(
  name: string,
  env: Record<string, string> = {},
  services?: TestServices,
): Promise<ApiHarness> {
  const own = services ?? (await openServices(name));
  const config = ApiConfig.parse({
    PORT: '0',
    ...own.redisEnv,
    REDIS_PREFIX: own.prefix,
    MONGODB_URI: own.mongoUri,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    API_KEY_CACHE_MS: '0',
    // Per-key budgets off unless a test sets them; the per-address ones stay, at their defaults.
    RATE_LIMIT_READS: '0',
    RATE_LIMIT_WRITES: '0',
    DATA_DIR: `${tmpdir()}/castforge-test-${own.prefix}`,
    ...env,
  });
  const api = await startEmbeddedApi(
    config,
    { redis: own.redis, mongo: own.mongo, logger: own.logger },
    'test',
  );
  return {
    ...api,
    services: own,
    async close() {
      await api.close();
      if (!services) await own.close();
    },
  };
}
