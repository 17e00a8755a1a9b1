import {
  type Connection,
  type Logger,
  type Redis,
  type Registry,
  createCampaignFinalizer,
  createCampaignRepository,
  createCampaignState,
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
import { createGenerationService } from './generation/generation.service';
import { createQueues } from './generation/queues';
import { createIdempotency } from './idempotency/idempotency';
import { jobMetrics } from './ops/job-metrics';

/** Steps and guidance assumed for estimates when neither request nor profile sets them. */
const ESTIMATE_DEFAULTS = { steps: 20, guidance: 7 };

/** Builds everything createApp needs from config and connections; used by index.ts and the tests. */
export async function buildApiDeps(
  config: ApiConfig,
  infra: { redis: Redis; mongo: Connection; logger: Logger; registry: Registry },
): Promise<AppDeps> {
  const { redis, mongo, logger, registry } = infra;
  const keys = redisKeys(config.REDIS_PREFIX);
  const keyStore = createKeyStore(mongo, { cacheTtlMs: config.API_KEY_CACHE_MS });
  const profiles = createProfileRepository(mongo);
  await Promise.all([keyStore.ensureIndexes(), profiles.ensureIndexes()]);
  await keyStore.bootstrap(parseBootstrapKeys(config.API_KEYS));
  const [resultSecret, sealingKey] = await Promise.all([
    serverSecret(mongo, 'result-signing', config.RESULT_SIGNING_SECRET),
    serverSecret(mongo, 'url-sealing'),
  ]);
  const sealer = createSealer(sealingKey);

  const jobs = createJobStore({ redis, keys, retentionSeconds: config.RESULT_TTL_SECONDS });
  const queues = createQueues({
    redis,
    keys,
    logger,
    attempts: config.JOB_ATTEMPTS,
    backoffMs: config.JOB_BACKOFF_MS,
  });
  const estimator = createEstimator(redis, keys);
  const urlGuard = createUrlGuard({ allowLoopback: config.CALLBACK_ALLOW_LOOPBACK });
  const outbox = createWebhookOutbox({ redis, keys, sealer, attempts: config.WEBHOOK_ATTEMPTS });
  registerQueueGauge(registry, { jobs, webhooks: outbox.queue });
  const resultLink = (key: string, expiresAtMs: number) =>
    resultUrl(config.PUBLIC_BASE_URL, key, expiresAtMs, resultSecret);
  const generation = createGenerationService({
    jobs,
    queues,
    profiles,
    estimator,
    maxJobsInFlight: config.TENANT_MAX_JOBS_IN_FLIGHT,
    backendDefaults: ESTIMATE_DEFAULTS,
    urlGuard,
    sealer,
  });
  const campaignRepository = createCampaignRepository(mongo);
  await campaignRepository.ensureIndexes();
  const campaignState = createCampaignState({ redis, keys, retentionSeconds: config.RESULT_TTL_SECONDS });
  const finalizeCampaign = createCampaignFinalizer({
    redis,
    keys,
    campaigns: campaignRepository,
    state: campaignState,
    outbox,
    retentionSeconds: config.RESULT_TTL_SECONDS,
  });
  const campaigns = createCampaignService({
    campaigns: campaignRepository,
    state: campaignState,
    jobs,
    queues,
    profiles,
    estimator,
    urlGuard,
    sealer,
    outbox,
    finalize: finalizeCampaign,
    redis,
    resultUrl: resultLink,
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
    generation,
    idempotency: createIdempotency({ redis, keys }),
    results: createResultStore(config),
    resultSecret,
    resultUrl: resultLink,
    metrics: jobMetrics(registry),
    outbox,
    campaigns,
    finalizeCampaign,
    webhookSecrets: createWebhookSecrets(mongo),
  };
}
