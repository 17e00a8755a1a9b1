import {
  type Connection,
  type Logger,
  type Redis,
  type Registry,
  WEBHOOK_QUEUE,
  createCampaignEnqueuer,
  createCampaignFinalizer,
  createCampaignIds,
  createCampaignRepository,
  createCampaignState,
  createJobEndings,
  createJobStore,
  createLaneQueues,
  createProfileRepository,
  createResultStore,
  createSealer,
  createUrlGuard,
  createWebhookOutbox,
  createWebhookSecrets,
  heartbeat,
  liveWorkers,
  redisKeys,
  registerQueueGauge,
  removeWorker,
  resultUrl,
  serverSecret,
} from '@castforge/core';
import { Worker } from 'bullmq';
import { Counter, Gauge } from 'prom-client';
import { type WorkerConfig, inputFetcherOptionsOf, promptEnhancerOptionsOf } from './config';
import { createLaneFetcher } from './fetching/lane-fetcher';
import { type InferenceBackend } from './inference/inference-backend';
import { createBackend } from './inference/registry';
import { createCancellations } from './jobs/cancellations';
import { createInputFetcher } from './inputs/input-image';
import { createReconciler } from './lifecycle/reconciler';
import { createWorkerMetrics } from './ops/metrics';
import { createPlanner } from './processors/plan';
import { createJobProcessor } from './processors/job.processor';
import { createProfileCache } from './profiles/profile-cache';
import { createPromptEnhancer } from './prompts/prompt-enhancer';
import { createFairScheduler } from './scheduling/fair-scheduler';
import { DeliveryAttemptFailed, createDeliveryProcessor } from './webhooks/delivery.processor';
import { createEventBody } from './webhooks/event-body';

export interface PoolInfra {
  /** Commands and BullMQ: a client that waits out Redis outages (maxRetriesPerRequest null). */
  redis: Redis;
  /** A second client for pub/sub (cancellations, lanes with new work, secret rotations). */
  subscriber: Redis;
  mongo: Connection;
  logger: Logger;
  registry: Registry;
}

/**
 * The worker pool of one process: a fair scheduler over the GPU endpoints of INFERENCE_URLS fed by one
 * fetcher that takes jobs from every tenant's lanes in turn; the relay that carries out what ended jobs
 * caused (webhooks, campaign finalization); the reconciler; the webhook deliveries; and the timers that keep
 * estimates and result expiry going. What it holds does not grow with the number of tenants.
 */
export async function createWorkerPool(
  config: WorkerConfig,
  infra: PoolInfra,
  overrides: {
    backend?: InferenceBackend;
    /** Told of each job this process ended (benchmarks and tests observe with it; it changes nothing). */
    onJobEnded?: (jobId: string, status: 'completed' | 'failed') => void;
  } = {},
) {
  const { redis, subscriber, mongo, logger, registry } = infra;
  const keys = redisKeys(config.REDIS_PREFIX, config.REDIS_BUCKETS);
  const [resultSecret, sealingKey, idsKey] = await Promise.all([
    serverSecret(mongo, 'result-signing', config.RESULT_SIGNING_SECRET),
    serverSecret(mongo, 'url-sealing'),
    serverSecret(mongo, 'job-ids'),
  ]);
  const ids = createCampaignIds(idsKey.toString('hex'));
  const sealer = createSealer(sealingKey);
  const signResult = (key: string, expiresAtMs: number) =>
    resultUrl(config.PUBLIC_BASE_URL, key, expiresAtMs, resultSecret);
  const backend = overrides.backend ?? createBackend(config, logger);
  const endpoints = config.INFERENCE_URLS.map((url, index) => ({ url, index }));
  await backend.init?.(endpoints);
  const scheduler = createFairScheduler(endpoints, config.INFERENCE_CONCURRENCY);
  const metrics = createWorkerMetrics(registry, backend.name, () => ({
    busy: scheduler.busy(),
    total: scheduler.slots,
    waiting: scheduler.waitingCount(),
    maxInFlight: scheduler.maxInFlightSeen(),
    inFlight: scheduler.inFlightNow(),
    perEndpoint: config.INFERENCE_CONCURRENCY,
  }));
  const stalledJobs = new Counter({
    name: 'jobs_stalled_total',
    help: 'Jobs found active with no lock (their worker stopped) and sent back to their lane',
    registers: [registry],
  });
  const profiles = createProfileCache(createProfileRepository(mongo), {
    hit: () => metrics.cacheHits.inc(),
    miss: () => metrics.cacheMisses.inc(),
  });
  const jobs = createJobStore({ redis, keys, ids, retentionSeconds: config.RESULT_TTL_SECONDS });
  const results = createResultStore(config);
  const cancellations = createCancellations(subscriber, keys.cancelChannel, logger);
  const campaigns = createCampaignRepository(mongo);
  const campaignState = createCampaignState({
    redis,
    keys,
    ids,
    retentionSeconds: config.RESULT_TTL_SECONDS,
  });
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
  const relayed = new Counter({
    name: 'outbox_relayed_total',
    help: 'What ended jobs and campaigns caused, carried out by the outbox relay, by kind',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const endings = createJobEndings({
    redis,
    keys,
    consumer: config.WORKER_ID,
    outbox,
    finalizeCampaign: createCampaignFinalizer({ campaigns, state: campaignState, outbox }),
    logger,
    onRelayed: (kind) => relayed.inc({ kind }),
  });
  new Gauge({
    name: 'webhook_outbox_pending',
    help: 'Outbox entries (job and campaign endings) not yet relayed',
    registers: [registry],
    async collect() {
      this.set(await endings.pending().catch(() => 0));
    },
  });

  const queues = createLaneQueues({
    redis,
    keys,
    options: {
      lockDurationMs: config.WORKER_LOCK_DURATION_MS,
      stalledIntervalMs: config.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: config.WORKER_MAX_STALLED_COUNT,
    },
  });
  const processor = createJobProcessor({
    runElsewhere: async (operation) => {
      for (const [id, beat] of await liveWorkers(redis, keys, 60_000)) {
        if (id !== config.WORKER_ID && beat.operations?.includes(operation)) return true;
      }
      return false;
    },
    backend,
    scheduler,
    jobs,
    plan: createPlanner({
      profiles,
      campaigns,
      sealer,
      campaignCancelled: async (tenantId, campaignId) =>
        (await redis.hget(keys.forTenant(tenantId).campaign(campaignId), 'is_cancelled')) === '1',
    }),
    sealer,
    inputs: createInputFetcher(inputFetcherOptionsOf(config)),
    enhancer: createPromptEnhancer({ ...promptEnhancerOptionsOf(config), logger }),
    results,
    cancellations,
    resultTtlSeconds: config.RESULT_TTL_SECONDS,
    jobTimeoutMs: config.JOB_TIMEOUT_SECONDS * 1000,
    metrics,
    logger,
    onEnded: overrides.onJobEnded,
  });
  const fetcher = createLaneFetcher({
    redis,
    subscriber,
    keys,
    queues,
    workerId: config.WORKER_ID,
    // A prepared job per slot beyond the ones running, so a GPU never waits for MongoDB or Redis.
    capacity: scheduler.slots * 2,
    lockDurationMs: config.WORKER_LOCK_DURATION_MS,
    stalledIntervalMs: config.WORKER_STALLED_INTERVAL_MS,
    process: processor,
    logger,
    onStalled: (count) => stalledJobs.inc(count),
  });
  const reconciler = createReconciler({
    redis,
    keys,
    jobs,
    queues,
    enqueuer: createCampaignEnqueuer({
      keys,
      state: campaignState,
      queues,
      retry: { attempts: config.JOB_ATTEMPTS, backoffMs: config.JOB_BACKOFF_MS },
      logger,
    }),
    workerId: config.WORKER_ID,
    olderThanMs: config.WORKER_LOCK_DURATION_MS + config.WORKER_STALLED_INTERVAL_MS * 2,
    registry,
    logger,
  });

  const deliveries = new Worker(
    WEBHOOK_QUEUE,
    createDeliveryProcessor({
      redis,
      keys,
      outbox,
      eventBody: createEventBody({ jobs, campaigns, campaignState, signResult }),
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
      prefix: keys.webhooks.bullPrefix,
      autorun: false,
      concurrency: config.WEBHOOK_CONCURRENCY,
      // A killed worker's deliveries come back as fast as its jobs do (the lock is renewed while an attempt
      // runs), and a stalled delivery is attempted again rather than given up: at least once (SPEC §6).
      lockDuration: config.WORKER_LOCK_DURATION_MS,
      stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: 1000,
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
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      void task()
        .catch((err: Error) => logger.debug({ err: err.message }, 'periodic task failed'))
        .finally(() => (running = false));
    }, ms);
    timer.unref();
    timers.push(timer);
  };
  const beat = () =>
    heartbeat(redis, keys, config.WORKER_ID, {
      slots: scheduler.slots,
      backend: backend.name,
      operations: [...backend.operations],
    });
  // Ended campaigns are forgotten in Redis once their results have expired (MongoDB keeps the outcome).
  const forgetCampaigns = async () => {
    for (const { bucket, campaignId } of await campaignState.dueToForget())
      await campaignState.forget(bucket, campaignId);
  };
  const sweepResults = async () => {
    for (const b of keys.allBuckets()) {
      const due = await redis.zrangebyscore(b.results, '-inf', Date.now(), 'LIMIT', 0, 500);
      for (const key of due) await results.remove(key);
      if (due.length) await redis.zrem(b.results, ...due);
    }
  };

  return {
    keys,
    jobs,
    ids,
    scheduler,
    metrics,
    outbox,
    endings,
    reconciler,
    fetcher,
    async start() {
      await cancellations.start();
      subscriber.on('message', onRotated);
      await subscriber.subscribe(keys.secretsChannel);
      await beat();
      await fetcher.start();
      void deliveries
        .run()
        .catch((err: Error) => logger.error({ err: err.message }, 'webhook worker stopped'));
      every(5000, beat);
      every(200, () => endings.relay());
      every(5000, () => endings.reclaim());
      every(Math.max(1000, config.WORKER_STALLED_INTERVAL_MS), () => reconciler.run());
      every(30_000, sweepResults);
      every(60_000, forgetCampaigns);
      every(300_000, async () =>
        endings.pruneConsumers(new Set((await liveWorkers(redis, keys, 600_000)).keys())),
      );
      logger.info(
        { backend: backend.name, endpoints: endpoints.length, slots: scheduler.slots },
        'worker pool started',
      );
    },
    sweepResults,
    /**
     * Graceful shutdown: no new job is taken; jobs waiting for a GPU go back to their lanes at once; running
     * jobs may finish within `drainMs`, then are handed back too (interrupted, status `pending`, never counted
     * as a stall); the relay gets a last pass so nothing an ended job caused waits for another worker.
     */
    async close(drainMs = config.SHUTDOWN_GRACE_MS) {
      timers.forEach(clearInterval);
      scheduler.close();
      await fetcher.close(drainMs);
      await endings.relay().catch(() => undefined);
      await deliveries.close();
      await outbox.close();
      await queues.close();
      await cancellations.stop();
      subscriber.off('message', onRotated);
      await subscriber.unsubscribe(keys.secretsChannel).catch(() => undefined);
      await backend.close?.();
      await removeWorker(redis, keys, config.WORKER_ID).catch(() => undefined);
    },
  };
}
export type WorkerPool = Awaited<ReturnType<typeof createWorkerPool>>;
