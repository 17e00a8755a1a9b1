import { createHash } from 'node:crypto';
import {
  type JobRef,
  type JobStore,
  type Logger,
  type ResultStore,
  type Sealer,
  catalog,
  costUnits,
  pickSeed,
  resolveGeneration,
} from '@castforge/core';
import { JobPayload, type OperationName, mimeTypeByFormat, operationRoutes } from '@castforge/schemas';
import { type InputFetcher, fetchInputImages } from '../inputs/input-image';
import { type PromptEnhancer } from '../prompts/prompt-enhancer';
import { compositeLogo } from '../results/logo';
import { type FetchedJob, HandbackError, LockLostError, type Outcome } from '../fetching/lane-fetcher';
import { type InferenceBackend, type InferenceResult, JobTimeoutError } from '../inference/inference-backend';
import { type Cancellations } from '../jobs/cancellations';
import { type WorkerMetrics } from '../ops/metrics';
import { encodeImage } from '../results/encode';
import { type FairScheduler, SchedulerClosedError } from '../scheduling/fair-scheduler';
import { type Classified, JobFailure, classify } from './failures';
import { type PlanJob } from './plan';

export interface ProcessorDeps {
  /** Whether a live worker other than this one declares `operation` (its heartbeat, SPEC §12). */
  runElsewhere: (operation: OperationName) => Promise<boolean>;
  backend: InferenceBackend;
  scheduler: FairScheduler;
  jobs: JobStore;
  plan: PlanJob;
  /** Opens a job's sealed input URLs, kept in its record until it ends. */
  sealer: Sealer;
  inputs: InputFetcher;
  enhancer: PromptEnhancer;
  results: ResultStore;
  cancellations: Cancellations;
  resultTtlSeconds: number;
  jobTimeoutMs: number;
  metrics: WorkerMetrics;
  logger: Logger;
  /** Told of each job this process ended (an observer for benchmarks and tests; it changes nothing). */
  onEnded?(jobId: string, status: 'completed' | 'failed'): void;
}

/** Progress is written when it moved and at most this often (a 0 ms job writes none). */
const PROGRESS_EVERY_MS = 250;

/** The job's reference for the scripts: its tenant from the lane, its campaign from the payload. */
export function refOf(item: FetchedJob, payload: unknown): JobRef {
  const data = payload as { kind?: string; c?: string; i?: number } | undefined;
  return {
    jobId: item.job.id!,
    tenantId: item.tenantId,
    ...(data?.kind === 'campaign' && data.c && data.i !== undefined
      ? { campaign: { campaignId: data.c, index: data.i } }
      : {}),
  };
}

/**
 * One job, in the order that keeps a GPU busy: everything that needs MongoDB or the network is done before a
 * slot is taken (so the next job is ready when the current one ends), the slot is held only for the backend
 * call, and encoding, storing and the status change happen after it is given back. Returns what became of
 * the job; the fetcher makes the matching BullMQ transition.
 */
export function createJobProcessor(deps: ProcessorDeps) {
  const { jobs, metrics } = deps;

  /** The input image URLs a single job was submitted with (sealed in its record; gone when it ends). */
  const sealedInputs = async (ref: JobRef): Promise<Record<string, string | string[]>> => {
    if (ref.campaign) return {};
    const [sealed] = await jobs.peek(ref, 'inputs');
    if (!sealed) return {};
    try {
      return JSON.parse(deps.sealer.open(sealed)) as Record<string, string | string[]>;
    } catch {
      throw new JobFailure('INPUT_INVALID', 'the input image URLs of this job cannot be read');
    }
  };

  /** Ends the job failed, once: its record (and all it causes, in the same script) and the metrics. */
  const fail = async (ref: JobRef, failure: Classified, endpoint: string): Promise<boolean> => {
    const ended = await jobs.finish(ref, 'failed', {
      error: failure.message,
      failure_reason_code: failure.code,
      retryable: failure.retryable,
    });
    if (ended.changed) {
      metrics.completed.inc({ endpoint, outcome: 'failed' });
      metrics.failed.inc({ failure_reason_code: failure.code });
      deps.onEnded?.(ref.jobId, 'failed');
    }
    return ended.changed;
  };

  return async (item: FetchedJob): Promise<Outcome> => {
    const { job } = item;
    const payload = JobPayload.safeParse(job.data);
    const ref = refOf(item, job.data);
    // A child logger only when a line is written: most jobs write none (the cost showed in profiles).
    const log = () => deps.logger.child({ job_id: ref.jobId });
    let endpoint: string = operationRoutes.generate;
    if (!payload.success) {
      await fail(
        ref,
        { code: 'INPUT_INVALID', message: 'the queued job is malformed', retryable: false },
        endpoint,
      );
      return { kind: 'failed', message: 'malformed payload' };
    }
    if (payload.data.kind === 'cancelled') return { kind: 'dropped' };
    if (job.deferredFailure) {
      // BullMQ gave up on it: its workers stopped (crashed, killed) more often than WORKER_MAX_STALLED_COUNT.
      const message = 'the worker running this job stopped (crashed or was killed) too many times';
      await fail(ref, { code: 'INTERNAL_ERROR', message, retryable: true }, endpoint);
      return { kind: 'failed', message: job.deferredFailure };
    }

    const control = deps.cancellations.register(ref.jobId);
    const onItemAbort = () => control.abort(item.signal.reason);
    item.signal.addEventListener('abort', onItemAbort, { once: true });
    try {
      // 1. Prepare, off the GPU: the pinned profile version (cached), the prompt, the seed.
      const plan = await deps.plan(ref, payload.data);
      endpoint = operationRoutes[plan.operation];
      if (!deps.backend.operations.has(plan.operation)) {
        // A fleet whose workers run different operations (a rolling deploy of a new ComfyUI template): the
        // job waits for one that runs it, and fails only when no live worker does any more.
        if (await deps.runElsewhere(plan.operation)) {
          return { kind: 'elsewhere', delayMs: 500 + Math.floor(Math.random() * 1000) };
        }
        throw new JobFailure(
          'INPUT_INVALID',
          `no live worker runs ${plan.operation} (this worker's backend, ${deps.backend.name}, does not)`,
        );
      }
      const spec = catalog[plan.operation];
      const warnings: string[] = [];

      // The input images (and a logo), fetched now that the job starts, held in memory for this job only.
      const sealed = payload.data.kind === 'single' && payload.data.inputs ? await sealedInputs(ref) : {};
      const urls = { ...plan.images, ...sealed };
      const images = await fetchInputImages(deps.inputs, urls, control.signal);
      // A logo the worker composites onto the result is not the backend's; one the operation itself takes
      // (branding-logo, branding-template) is one of its input images.
      const logo = spec.compositesLogo ? images.logo_url : undefined;
      if (spec.compositesLogo) delete images.logo_url;

      // The caller's prompt, rewritten before the join when asked (SPEC §12); a failure only warns.
      const input = { ...plan.input };
      if (input.enhance_prompt === true && typeof input.prompt === 'string' && input.prompt) {
        const enhanced = await deps.enhancer.enhance(input.prompt, control.signal);
        input.prompt = enhanced.prompt;
        if (enhanced.warning) warnings.push(enhanced.warning);
      }
      const seed = pickSeed(
        plan.snapshot?.seed_strategy,
        input.seed,
        plan.snapshot?.fixed_seed,
        plan.variant,
      );
      const resolved = resolveGeneration(input, plan.snapshot, deps.backend.defaults, seed, spec.defaults);
      const options = Object.fromEntries(spec.optionFields.map((field) => [field, input[field]]));

      // 2. Wait for a GPU slot, then run.
      const lease = await deps.scheduler.acquire(item.tenantId, item.kind, control.signal);
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
        const started = await jobs.start(ref, {
          prompt: resolved.prompt,
          seed,
          fields: {
            prompt_hash: createHash('sha256').update(resolved.prompt).digest('hex'),
            warnings: warnings.length ? JSON.stringify(warnings) : undefined,
          },
        });
        if (started.kind !== 'started') return { kind: 'dropped' };
        const waitFrom = plan.queuedAt ?? job.timestamp;
        if (started.attempts === 1) metrics.queueWait.observe(Math.max(0, Date.now() - waitFrom) / 1000);
        let sent = 0;
        let sentAt = Date.now();
        const t0 = performance.now();
        inference = await deps.backend.run(lease.endpoint, {
          ...resolved,
          jobId: ref.jobId,
          operation: plan.operation,
          images,
          options,
          label: plan.profileName,
          prompt: started.prompt,
          seed: started.seed,
          signal: control.signal,
          onProgress: (fraction) => {
            const percent = Math.floor(fraction * 100);
            const now = Date.now();
            if (percent > sent && percent < 100 && now - sentAt >= PROGRESS_EVERY_MS) {
              sent = percent;
              sentAt = now;
              jobs.progress(ref, percent).catch(() => undefined);
            }
          },
        });
        inferenceMs = performance.now() - t0;
      } finally {
        clearTimeout(budget);
        lease.release();
      }
      metrics.inference.observe(inferenceMs / 1000);
      if (logo) {
        inference = await compositeLogo(inference, logo).catch((err: unknown) => {
          throw new JobFailure(
            'INPUT_INVALID',
            'logo_url: the logo could not be composited onto the result',
            {
              cause: err,
            },
          );
        });
      }

      // 3. Encode and store, with the slot already given to the next job.
      const encoded = await encodeImage(inference, resolved.outputFormat).catch((err: unknown) => {
        throw new JobFailure('MODEL_ERROR', 'the backend returned an image that could not be decoded', {
          cause: err,
        });
      });
      const key = `${ref.jobId}.${resolved.outputFormat}`;
      const expiresAt = Date.now() + deps.resultTtlSeconds * 1000;
      await deps.results.put(key, encoded.data).catch((err: unknown) => {
        throw new JobFailure('STORAGE_ERROR', 'the result could not be stored', { cause: err });
      });
      const ended = await jobs.finish(
        ref,
        'completed',
        {
          inference_ms: Math.round(inferenceMs),
          result_key: key,
          result_mime_type: mimeTypeByFormat[resolved.outputFormat],
          result_size_bytes: encoded.data.length,
          result_expires_at: expiresAt,
        },
        {
          result: { key, expiresAt },
          sample: { ms: inferenceMs, units: costUnits(resolved.steps, resolved.width, resolved.height) },
        },
      );
      if (!ended.changed) {
        // Cancelled or failed while it ran: its image is not kept. Completed already (another worker ran it
        // after a stall): the file under this key is that result, and stays.
        if (ended.previous !== 'completed') await deps.results.remove(key);
        return { kind: 'dropped' };
      }
      metrics.completed.inc({ endpoint, outcome: 'completed' });
      deps.onEnded?.(ref.jobId, 'completed');
      log().debug({ inference_ms: Math.round(inferenceMs), bytes: encoded.data.length }, 'job completed');
      return { kind: 'completed' };
    } catch (err) {
      const reason = control.signal.reason as unknown;
      if (err instanceof SchedulerClosedError || reason instanceof HandbackError) {
        // Shutting down: the job goes back to its lane for another worker, without counting as a stall.
        await jobs.retry(ref).catch(() => undefined);
        return { kind: 'handback' };
      }
      if (reason instanceof LockLostError) return { kind: 'dropped' };
      const failure = classify(err);
      if (failure.code === 'CANCELLED') return { kind: 'dropped' }; // the cancel already ended it
      const attemptsLeft = job.attemptsMade + 1 < (job.opts.attempts ?? 1);
      if (failure.retryable && attemptsLeft) {
        await jobs.retry(ref, { error: failure.message, code: failure.code });
        metrics.retried.inc({ failure_reason_code: failure.code });
        log().warn(
          { code: failure.code, err: (err as Error).message, attempt: job.attemptsMade + 1 },
          'attempt failed; will retry',
        );
        return { kind: 'retry', error: err as Error };
      }
      if (await fail(ref, failure, endpoint))
        log().warn({ code: failure.code, err: (err as Error).message }, 'job failed');
      return { kind: 'failed', message: failure.message };
    } finally {
      item.signal.removeEventListener('abort', onItemAbort);
      deps.cancellations.unregister(ref.jobId);
    }
  };
}
export type JobProcessor = ReturnType<typeof createJobProcessor>;
