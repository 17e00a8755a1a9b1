import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Redis, createRedis } from '@castforge/core';
import { type AppDeps } from '@castforge/api/dist/app';
import { ApiConfig } from '@castforge/api/dist/config';
import { startEmbeddedApi } from '@castforge/api/dist/embedded';
import { type BenchServices } from './services';

export interface BenchApi {
  deps: AppDeps;
  /** The API's own Redis client (fail-fast, as in production). */
  redis: Redis;
  baseUrl: string;
  /** Where the API's result store writes (a folder of its own under the OS temp dir); the caller removes it. */
  dataDir: string;
  /** An API key of the tenant, created once. */
  keyFor(tenantId: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * The real API app (startEmbeddedApi: wired as apps/api/src/index.ts wires it) listening on a free
 * loopback port in this process, under the bench's Redis prefix. Settings that would throttle a bench
 * (per-key rate limit, jobs-in-flight cap) come in through `env`, the way an operator would set them.
 */
export async function startApi(
  services: BenchServices,
  prefix: string,
  env: Record<string, string> = {},
): Promise<BenchApi> {
  const config = ApiConfig.parse({
    PORT: '0',
    REDIS_URL: services.redisUrl,
    REDIS_PREFIX: prefix,
    MONGODB_URI: services.mongoUri,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
    DATA_DIR: path.join(tmpdir(), `castforge-${prefix}`),
    ...env,
  });
  const redis = createRedis(config.REDIS_URL, 'command', services.logger);
  const api = await startEmbeddedApi(
    config,
    { redis, mongo: services.mongo, logger: services.logger },
    'bench',
  );
  return {
    deps: api.deps,
    redis,
    baseUrl: api.baseUrl,
    dataDir: config.DATA_DIR,
    keyFor: api.keyFor,
    async close() {
      await api.close();
      redis.disconnect();
    },
  };
}
