import {
  type Connection,
  type Logger,
  type Redis,
  type Registry,
  createCampaignEnqueuer,
  createCampaignIds,
  createCampaignRepository,
  createCampaignState,
  createLaneQueues,
  createSealer,
  createUrlGuard,
  createWebhookOutbox,
  createWebhookSecrets,
  createEstimator,
  createJobStore,
  createKeyStore,
  createProfileRepository,
  createResultStore,
  parseBootstrapKeys,
  redisKeys,
  registerQueueGauge,
  resultUrl,
  serverSecret,
} from '@castforge/core';
import { type AppDeps } from './app';
import { type ApiConfig } from './config';
import { createCampaignService } from './campaigns/campaigns.service';
import { createIdempotency } from './idempotency/idempotency';
import { createCapabilities } from './jobs/capabilities';
import { createJobView } from './jobs/job-view';
import { createProducer } from './jobs/producer';
import { createSubmitService } from './jobs/submit.service';
import { jobMetrics } from './ops/job-metrics';

/** Steps and guidance assumed for estimates when neither request nor profile sets them. */
const ESTIMATE_DEFAULTS = { steps: 20, guidance: 7 };

/** Builds everything createApp needs from config and connections; used by index.ts and the tests. */
export async function buildApiDeps(
  config: ApiConfig,
  infra: { redis: Redis; mongo: Connection; logger: Logger; registry: Registry },
): Promise<AppDeps> {
  const { redis, mongo, logger, registry } = infra;
  const keys = redisKeys(config.REDIS_PREFIX, config.REDIS_BUCKETS);
  const keyStore = createKeyStore(mongo, { cacheTtlMs: config.API_KEY_CACHE_MS });
  const profiles = createProfileRepository(mongo);
  await Promise.all([keyStore.ensureIndexes(), profiles.ensureIndexes()]);
  await keyStore.bootstrap(parseBootstrapKeys(config.API_KEYS));
  const [resultSecret, sealingKey, idsKey] = await Promise.all([
    serverSecret(mongo, 'result-signing', config.RESULT_SIGNING_SECRET),
    serverSecret(mongo, 'url-sealing'),
    serverSecret(mongo, 'job-ids'),
  ]);
  const sealer = createSealer(sealingKey);
  const ids = createCampaignIds(idsKey.toString('hex'));
  const retry = { attempts: config.JOB_ATTEMPTS, backoffMs: config.JOB_BACKOFF_MS };

  const durability = { replicas: config.REDIS_WAIT_REPLICAS, timeoutMs: config.REDIS_WAIT_TIMEOUT_MS };
  const jobs = createJobStore({ redis, keys, ids, retentionSeconds: config.RESULT_TTL_SECONDS, durability });
  // Producer Queue objects per lane share this connection and are few at a time (least recently used go).
  const queues = createLaneQueues({ redis, keys });
  const estimator = createEstimator(redis, keys);
  const urlGuard = createUrlGuard({ allowLoopback: config.CALLBACK_ALLOW_LOOPBACK });
  const inputGuard = createUrlGuard({
    allowLoopback: config.INPUT_ALLOW_LOOPBACK,
    loopbackSetting: 'INPUT_ALLOW_LOOPBACK',
  });
  const outbox = createWebhookOutbox({ redis, keys, sealer, attempts: config.WEBHOOK_ATTEMPTS });
  registerQueueGauge(registry, { jobs, webhooks: outbox.queue });
  const resultLink = (key: string, expiresAtMs: number) =>
    resultUrl(config.PUBLIC_BASE_URL, key, expiresAtMs, resultSecret);
  const view = createJobView({
    resultUrl: resultLink,
    estimator,
    gpuCostPerSecondUsd: config.GPU_COST_PER_SECOND_USD,
  });
  const capabilities = createCapabilities({ redis, keys });
  const submit = createSubmitService({
    producer: createProducer({ jobs, queues, retry }),
    profiles,
    estimator,
    capabilities,
    maxJobsInFlight: config.TENANT_MAX_JOBS_IN_FLIGHT,
    backendDefaults: ESTIMATE_DEFAULTS,
    urlGuard,
    inputGuard,
    sealer,
  });
  const campaignRepository = createCampaignRepository(mongo);
  await campaignRepository.ensureIndexes();
  const campaignState = createCampaignState({
    redis,
    keys,
    ids,
    retentionSeconds: config.RESULT_TTL_SECONDS,
    durability,
  });
  const campaigns = createCampaignService({
    campaigns: campaignRepository,
    state: campaignState,
    enqueuer: createCampaignEnqueuer({ keys, state: campaignState, queues, retry, logger }),
    jobs,
    view,
    profiles,
    estimator,
    urlGuard,
    inputGuard,
    capabilities,
    sealer,
    maxJobs: config.CAMPAIGN_MAX_JOBS,
    maxJobsInFlight: config.TENANT_MAX_JOBS_IN_FLIGHT,
    backendDefaults: ESTIMATE_DEFAULTS,
    logger,
  });
  return {
    config,
    logger,
    registry,
    redis,
    mongo,
    keys: keyStore,
    profiles,
    jobs,
    queues,
    submit,
    view,
    capabilities,
    idempotency: createIdempotency({ redis, keys }),
    results: createResultStore(config),
    resultSecret,
    resultUrl: resultLink,
    metrics: jobMetrics(registry),
    outbox,
    campaigns,
    webhookSecrets: createWebhookSecrets(mongo),
    // Bull Board shows the webhook queue and the lanes that hold work now (they come and go with tenants).
    listQueues: async () => {
      const lanes = await Promise.all(
        keys
          .allBuckets()
          .map(async (b) => (await redis.zrange(b.ready, 0, 99)).map((lane) => queues.get(b.bucket, lane))),
      );
      return [outbox.queue, ...lanes.flat()];
    },
  };
}
