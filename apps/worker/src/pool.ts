import {
  type Connection,
  type Logger,
  type Redis,
  type Registry,
  WEBHOOK_QUEUE,
  createCampaignFinalizer,
  createCampaignRepository,
  createCampaignState,
  createJobStore,
  createProfileRepository,
  createResultStore,
  createSealer,
  createUrlGuard,
  createWebhookOutbox,
  createWebhookSecrets,
  heartbeat,
  jobEvent,
  parseLane,
  redisKeys,
  registerQueueGauge,
  removeWorker,
  resultUrl,
  serverSecret,
} from '@castforge/core';
import { type Job, Worker } from 'bullmq';
import { type WorkerConfig } from './config';
import { createA1111Backend } from './inference/a1111';
import { type InferenceBackend } from './inference/inference-backend';
import { createSimulatedBackend } from './inference/simulated';
import { createCancellations } from './jobs/cancellations';
import { createWorkerMetrics } from './ops/metrics';
import { classify } from './processors/failures';
import { createGenerateImageProcessor, recordFailure } from './processors/generate-image.processor';
import { type JobEnded, createPlanner } from './processors/plan';
import { createProfileCache } from './profiles/profile-cache';
import { createFairScheduler } from './scheduling/fair-scheduler';
import { createLaneWatcher } from './scheduling/lane-watcher';
import { DeliveryAttemptFailed, createDeliveryProcessor } from './webhooks/delivery.processor';

export interface PoolInfra {
  /** Commands and BullMQ workers: a client that waits out Redis outages (maxRetriesPerRequest null). */
  redis: Redis;
  /** A second client for pub/sub (cancellations, new lanes). */
  subscriber: Redis;
  mongo: Connection;
  logger: Logger;
  registry: Registry;
}

export function createBackend(config: WorkerConfig, logger: Logger): InferenceBackend {
  if (config.INFERENCE_BACKEND === 'a1111') {
    return createA1111Backend({ logger, ...(config.INFERENCE_AUTH && { auth: config.INFERENCE_AUTH }) });
  }
  return createSimulatedBackend({ stepMs: config.SIMULATED_STEP_MS, imageMs: config.SIMULATED_IMAGE_MS });
}

/**
 * The worker pool of one process: a fair scheduler over the GPU endpoints of INFERENCE_URLS, one BullMQ
 * Worker per lane feeding it, and the timers that keep estimates and result expiry going.
 */
export async function createWorkerPool(
  config: WorkerConfig,
  infra: PoolInfra,
  overrides: { backend?: InferenceBackend; onJobEnded?: (event: JobEnded) => Promise<void> } = {},
) {
  const { redis, subscriber, mongo, logger, registry } = infra;
  const keys = redisKeys(config.REDIS_PREFIX);
  const [resultSecret, sealingKey] = await Promise.all([
    serverSecret(mongo, 'result-signing', config.RESULT_SIGNING_SECRET),
    serverSecret(mongo, 'url-sealing'),
  ]);
  const sealer = createSealer(sealingKey);
  const signResult = (key: string, expiresAtMs: number) =>
    resultUrl(config.PUBLIC_BASE_URL, key, expiresAtMs, resultSecret);
  const backend = overrides.backend ?? createBackend(config, logger);
  const endpoints = config.INFERENCE_URLS.map((url, index) => ({ url, index }));
  const scheduler = createFairScheduler(endpoints, config.INFERENCE_CONCURRENCY);
  const metrics = createWorkerMetrics(registry, backend.name, () => ({
    busy: scheduler.busy(),
    total: scheduler.slots,
    waiting: scheduler.waitingCount(),
    maxInFlight: scheduler.maxInFlightSeen(),
  }));
  const profiles = createProfileCache(createProfileRepository(mongo), {
    hit: () => metrics.cacheHits.inc(),
    miss: () => metrics.cacheMisses.inc(),
  });
  const jobs = createJobStore({ redis, keys, retentionSeconds: config.RESULT_TTL_SECONDS });
  const results = createResultStore(config);
  const cancellations = createCancellations(subscriber, keys.cancelChannel, logger);
  const campaigns = createCampaignRepository(mongo);
  const campaignState = createCampaignState({ redis, keys, retentionSeconds: config.RESULT_TTL_SECONDS });
  const guard = createUrlGuard({ allowLoopback: config.CALLBACK_ALLOW_LOOPBACK });
  const outbox = createWebhookOutbox({
    redis,
    keys,
    sealer,
    attempts: config.WEBHOOK_RETRY_DELAYS.length + 1,
  });
  registerQueueGauge(registry, { jobs, webhooks: outbox.queue });
  const webhookSecrets = createWebhookSecrets(mongo, { cacheMs: 5000 });
  const onRotated = (channel: string, tenantId: string) => {
    if (channel === keys.secretsChannel) webhookSecrets.forget(tenantId);
  };
  const finalizeCampaign = createCampaignFinalizer({
    redis,
    keys,
    campaigns,
    state: campaignState,
    outbox,
    retentionSeconds: config.RESULT_TTL_SECONDS,
  });

  // A job that ended here with a callback URL gets its event queued for delivery, never sent inline; the
  // job that ended its campaign's last job also closes the campaign.
  const onJobEnded =
    overrides.onJobEnded ??
    (async (ended: JobEnded) => {
      if (ended.callbackUrl) {
        const record = await jobs.read(ended.tenantId, ended.jobId);
        if (record) {
          await outbox.enqueue({
            tenantId: ended.tenantId,
            sealedUrl: ended.callbackUrl,
            event: jobEvent(record, signResult),
          });
        }
      }
      if (ended.campaignDone && ended.campaignId) await finalizeCampaign(ended.tenantId, ended.campaignId);
    });

  const processor = createGenerateImageProcessor({
    workerId: config.WORKER_ID,
    backend,
    scheduler,
    jobs,
    plan: createPlanner({ profiles, campaigns, redis, keys }),
    results,
    redis,
    keys,
    cancellations,
    resultTtlSeconds: config.RESULT_TTL_SECONDS,
    jobTimeoutMs: config.JOB_TIMEOUT_SECONDS * 1000,
    metrics,
    logger,
    onJobEnded,
  });

  // BullMQ gave up on a job our processor did not finish, e.g. its worker died more than
  // WORKER_MAX_STALLED_COUNT times: the status record must still end, exactly once.
  const onFailed = (job: Job | undefined, err: Error) => {
    if (!job?.id) return;
    // The processor throws UnrecoverableError only once it has recorded the failure itself.
    if (err.name === 'UnrecoverableError' || job.attemptsMade < (job.opts.attempts ?? 1)) return;
    const failure = classify(err);
    if (/stalled/.test(err.message)) {
      failure.message = 'the worker running this job stopped (crashed or was killed) too many times';
    }
    const tenantId = parseLane(job.queueName)?.tenantId ?? '';
    recordFailure({ jobs, metrics, onJobEnded }, { jobId: job.id, tenantId }, failure).catch((e: unknown) =>
      logger.warn({ job_id: job.id, err: (e as Error).message }, 'could not record failure'),
    );
  };

  const watcher = createLaneWatcher({
    redis,
    subscriber,
    keys,
    processor,
    logger,
    onFailed,
    options: {
      // Each lane may hold a prepared job per slot beyond the ones running, so a GPU never waits.
      concurrency: scheduler.slots * 2,
      lockDuration: config.WORKER_LOCK_DURATION_MS,
      stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: config.WORKER_MAX_STALLED_COUNT,
      // The status record is the history; BullMQ keeps nothing of a finished job (zero data retention).
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 0 },
    },
  });

  const deliveries = new Worker(
    WEBHOOK_QUEUE,
    createDeliveryProcessor({
      redis,
      keys,
      outbox,
      secrets: webhookSecrets,
      sealer,
      guard,
      retryDelaysSeconds: config.WEBHOOK_RETRY_DELAYS,
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
      perHostConcurrency: config.WEBHOOK_PER_HOST_CONCURRENCY,
      perTenantConcurrency: config.WEBHOOK_PER_TENANT_CONCURRENCY,
      registry,
      logger,
    }),
    {
      connection: redis,
      prefix: keys.bullPrefix,
      autorun: false,
      concurrency: config.WEBHOOK_CONCURRENCY,
      // Deliveries are short HTTP calls: a lost worker's deliveries come back quickly.
      lockDuration: Math.max(30_000, config.WEBHOOK_TIMEOUT_MS * 3),
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 0 },
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) =>
          err instanceof DeliveryAttemptFailed
            ? err.delayMs
            : config.WEBHOOK_RETRY_DELAYS[0]! * 1000 * attemptsMade,
      },
    },
  );
  deliveries.on('error', (err) => logger.warn({ err: err.message }, 'webhook worker error'));

  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, task: () => Promise<unknown>) => {
    const timer = setInterval(() => void task().catch(() => undefined), ms);
    timer.unref();
    timers.push(timer);
  };
  // Ended campaigns are forgotten in Redis once their results have expired (MongoDB keeps the outcome).
  const forgetCampaigns = async () => {
    const due = await redis.zrangebyscore(keys.campaignsToForget, '-inf', Date.now(), 'LIMIT', 0, 10);
    for (const campaignId of due) {
      if ((await redis.zrem(keys.campaignsToForget, campaignId)) === 1)
        await campaignState.forget(campaignId);
    }
  };
  const sweepResults = async () => {
    const due = await redis.zrangebyscore(keys.results, '-inf', Date.now(), 'LIMIT', 0, 500);
    for (const key of due) await results.remove(key);
    if (due.length) await redis.zrem(keys.results, ...due);
  };

  return {
    keys,
    jobs,
    scheduler,
    metrics,
    outbox,
    async start() {
      await cancellations.start();
      subscriber.on('message', onRotated);
      await subscriber.subscribe(keys.secretsChannel);
      await watcher.start();
      void deliveries
        .run()
        .catch((err: Error) => logger.error({ err: err.message }, 'webhook worker stopped'));
      await heartbeat(redis, keys, config.WORKER_ID, scheduler.slots);
      every(5000, () => heartbeat(redis, keys, config.WORKER_ID, scheduler.slots));
      every(30_000, sweepResults);
      every(60_000, forgetCampaigns);
      logger.info(
        { backend: backend.name, endpoints: endpoints.length, slots: scheduler.slots },
        'worker pool started',
      );
    },
    sweepResults,
    /** Jobs waiting for a slot go back to the queue; jobs on a GPU finish (SIGTERM drains). */
    async close() {
      timers.forEach(clearInterval);
      const closing = watcher.close();
      scheduler.close();
      await closing;
      await deliveries.close();
      await outbox.close();
      await cancellations.stop();
      subscriber.off('message', onRotated);
      await subscriber.unsubscribe(keys.secretsChannel).catch(() => undefined);
      await removeWorker(redis, keys, config.WORKER_ID).catch(() => undefined);
    },
  };
}
export type WorkerPool = Awaited<ReturnType<typeof createWorkerPool>>;
