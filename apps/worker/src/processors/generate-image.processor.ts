import {
  type JobStore,
  JobPayload,
  type Logger,
  type RedisKeys,
  type ResultStore,
  costUnits,
  parseLane,
  pickSeed,
  recordInference,
  resolveGeneration,
} from '@castforge/core';
import { GENERATE_IMAGE_ENDPOINT, TERMINAL_STATUSES, mimeTypeByFormat } from '@castforge/schemas';
import { type Job, UnrecoverableError, WaitingError } from 'bullmq';
import { type Redis } from 'ioredis';
import { type InferenceBackend, type InferenceResult, JobTimeoutError } from '../inference/inference-backend';
import { type Cancellations } from '../jobs/cancellations';
import { type WorkerMetrics } from '../ops/metrics';
import { encodeImage } from '../results/encode';
import { type FairScheduler, SchedulerClosedError } from '../scheduling/fair-scheduler';
import { type Classified, JobFailure, classify } from './failures';
import { type JobEnded, type PlanJob } from './plan';

export interface ProcessorDeps {
  workerId: string;
  backend: InferenceBackend;
  scheduler: FairScheduler;
  jobs: JobStore;
  plan: PlanJob;
  results: ResultStore;
  redis: Redis;
  keys: RedisKeys;
  cancellations: Cancellations;
  resultTtlSeconds: number;
  jobTimeoutMs: number;
  metrics: WorkerMetrics;
  logger: Logger;
  /** Called once per job that ends here (completed or failed), e.g. to send its webhook. */
  onJobEnded(event: JobEnded): Promise<void>;
}

const TERMINAL: ReadonlySet<string> = new Set(TERMINAL_STATUSES);

/**
 * Ends a job as failed, once: its status record, the metrics and its end event (webhook, campaign). Used by
 * the processor and by the pool for jobs BullMQ gave up on (stalled too often). Whether this call ended it.
 */
export async function recordFailure(
  deps: Pick<ProcessorDeps, 'jobs' | 'metrics' | 'onJobEnded'>,
  job: { jobId: string; tenantId: string },
  failure: Classified,
): Promise<boolean> {
  const ended = await deps.jobs.finish(job.jobId, 'failed', {
    error: failure.message,
    failure_reason_code: failure.code,
    retryable: failure.retryable,
  });
  if (!ended.changed) return false;
  deps.metrics.completed.inc({ endpoint: GENERATE_IMAGE_ENDPOINT, outcome: 'failed' });
  deps.metrics.failed.inc({ failure_reason_code: failure.code });
  await deps.onJobEnded({ ...job, ...ended });
  return true;
}

/**
 * One generation job, in the order that keeps a GPU busy: everything that needs MongoDB or Redis is done
 * before a slot is taken (so the next job is ready when the current one ends), the slot is held only for
 * the backend call, and encoding, storing and bookkeeping happen after it is given back.
 */
export function createGenerateImageProcessor(deps: ProcessorDeps) {
  const { jobs, metrics } = deps;

  return async (job: Job<unknown>, token?: string): Promise<void> => {
    const jobId = job.id!;
    const log = deps.logger.child({ job_id: jobId });
    const lane = parseLane(job.queueName);
    if (!lane) throw new UnrecoverableError(`not a generation lane: ${job.queueName}`);
    const control = deps.cancellations.register(jobId);
    try {
      // 1. Prepare, off the GPU: the pinned profile version (cached), the prompt, the seed.
      const [status, queuedAt] = await jobs.peek(jobId, 'status', 'queued_at');
      if (status && TERMINAL.has(status)) return;
      const payload = JobPayload.safeParse(job.data);
      if (!payload.success) throw new JobFailure('INPUT_INVALID', 'the queued job is malformed');
      const plan = await deps.plan(lane.tenantId, payload.data);
      if (plan.skip) return;
      // A retry picks again, but start() keeps the first attempt's seed (and prompt) and returns it.
      const seed = pickSeed(
        plan.snapshot?.seed_strategy,
        plan.input.seed,
        plan.snapshot?.fixed_seed,
        plan.variant,
      );
      const resolved = resolveGeneration(plan.input, plan.snapshot, deps.backend.defaults, seed);

      // 2. Wait for a GPU slot, then run.
      const lease = await deps.scheduler.acquire(lane.tenantId, lane.kind, control.signal);
      let inference: InferenceResult;
      let inferenceMs: number;
      const budget = setTimeout(
        () =>
          control.abort(
            new JobTimeoutError(`the job ran past its ${deps.jobTimeoutMs / 1000} s time budget`),
          ),
        deps.jobTimeoutMs,
      );
      try {
        const started = await jobs.start(jobId, { worker: deps.workerId, prompt: resolved.prompt, seed });
        if (started.kind !== 'started') return;
        const waitFrom = Number(queuedAt ?? plan.queuedAt ?? Date.now());
        if (started.attempts === 1) metrics.queueWait.observe(Math.max(0, Date.now() - waitFrom) / 1000);
        let sent = 0;
        let sentAt = 0;
        const t0 = performance.now();
        inference = await deps.backend.run(lease.endpoint, {
          ...resolved,
          jobId,
          operation: 'generate',
          images: {},
          options: {},
          prompt: started.prompt,
          seed: started.seed,
          signal: control.signal,
          onProgress: (fraction) => {
            const percent = Math.floor(fraction * 100);
            const now = Date.now();
            if (percent > sent && (now - sentAt >= 250 || percent >= 99)) {
              sent = percent;
              sentAt = now;
              jobs.progress(jobId, percent).catch(() => undefined);
            }
          },
        });
        inferenceMs = performance.now() - t0;
      } finally {
        clearTimeout(budget);
        lease.release();
      }
      metrics.inference.observe(inferenceMs / 1000);

      // 3. Encode and store, with the slot already given to the next job.
      const encoded = await encodeImage(inference, resolved.outputFormat).catch((err: unknown) => {
        throw new JobFailure('MODEL_ERROR', 'the backend returned an image that could not be decoded', {
          cause: err,
        });
      });
      const key = `${jobId}.${resolved.outputFormat}`;
      const expiresAt = Date.now() + deps.resultTtlSeconds * 1000;
      await deps.results.put(key, encoded.data).catch((err: unknown) => {
        throw new JobFailure('STORAGE_ERROR', 'the result could not be stored', { cause: err });
      });
      await deps.redis.zadd(deps.keys.results, expiresAt, key);
      const ended = await jobs.finish(jobId, 'completed', {
        inference_ms: Math.round(inferenceMs),
        result_key: key,
        result_mime_type: mimeTypeByFormat[resolved.outputFormat],
        result_size_bytes: encoded.data.length,
        result_expires_at: expiresAt,
      });
      if (!ended.changed) {
        // Cancelled while it ran: its image is not kept.
        await deps.results.remove(key);
        return;
      }
      await recordInference(
        deps.redis,
        deps.keys,
        inferenceMs,
        costUnits(resolved.steps, resolved.width, resolved.height),
      );
      metrics.completed.inc({ endpoint: GENERATE_IMAGE_ENDPOINT, outcome: 'completed' });
      log.info({ inference_ms: Math.round(inferenceMs), bytes: encoded.data.length }, 'job completed');
      await deps.onJobEnded({ jobId, tenantId: lane.tenantId, ...ended });
    } catch (err) {
      if (err instanceof SchedulerClosedError) {
        // Shutting down before this job got a GPU: it goes back to the queue for another worker.
        await job.moveToWait(token);
        throw new WaitingError();
      }
      const failure = classify(err);
      if (failure.code === 'CANCELLED') return; // the API already recorded the cancel
      const attemptsLeft = job.attemptsMade + 1 < (job.opts.attempts ?? 1);
      if (failure.retryable && attemptsLeft) {
        await jobs.retry(jobId, { error: failure.message, code: failure.code });
        metrics.retried.inc({ failure_reason_code: failure.code });
        log.warn(
          { code: failure.code, err: (err as Error).message, attempt: job.attemptsMade + 1 },
          'attempt failed; will retry',
        );
        throw err;
      }
      if (await recordFailure(deps, { jobId, tenantId: lane.tenantId }, failure)) {
        log.warn({ code: failure.code, err: (err as Error).message }, 'job failed');
      }
      // Recorded above: the pool's `failed` handler leaves an UnrecoverableError alone.
      throw new UnrecoverableError(failure.message);
    } finally {
      deps.cancellations.unregister(jobId);
    }
  };
}
