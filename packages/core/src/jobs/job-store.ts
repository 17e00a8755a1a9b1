import {
  type FailureReasonCode,
  FailureReasonCode as FailureReasonCodeSchema,
  JobStatusName,
  type JobStatusName as JobStatusNameType,
} from '@castforge/schemas';
import { type Redis } from 'ioredis';
import { AppError } from '../errors';
import { type RedisKeys, bullPriority } from './keys';
import { scriptsOf } from './run-scripts';

/** A status record as stored, with numbers parsed. Times are epoch milliseconds. */
export interface JobRecord {
  jobId: string;
  tenantId: string;
  status: JobStatusNameType;
  progress: number;
  endpoint: string;
  profileId: string | null;
  profileVersion: number | null;
  campaignId: string | null;
  campaignIndex: number | null;
  seed: number | null;
  prompt: string | null;
  queuedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  inferenceMs: number | null;
  attempts: number;
  resultKey: string | null;
  resultMimeType: string | null;
  resultSizeBytes: number | null;
  resultExpiresAt: number | null;
  error: string | null;
  failureReasonCode: FailureReasonCode | null;
  retryable: boolean | null;
  metadata: Record<string, unknown> | null;
  lane: string | null;
  /** Jobs ahead of this one while it is queued. */
  ahead: number | null;
}

const num = (value: string | undefined) => (value === undefined || value === '' ? null : Number(value));

export function parseRecord(jobId: string, fields: Record<string, string>): JobRecord {
  const status = JobStatusName.parse(fields.status);
  const code = FailureReasonCodeSchema.safeParse(fields.failure_reason_code);
  return {
    jobId,
    tenantId: fields.tenant ?? '',
    status,
    progress: num(fields.progress) ?? 0,
    endpoint: fields.endpoint ?? '/generate/image/v1',
    profileId: fields.profile_id || null,
    profileVersion: num(fields.profile_version),
    campaignId: fields.campaign_id || null,
    campaignIndex: num(fields.campaign_index),
    seed: num(fields.seed),
    prompt: fields.prompt ?? null,
    queuedAt: num(fields.queued_at) ?? 0,
    startedAt: num(fields.started_at),
    finishedAt: num(fields.finished_at),
    inferenceMs: num(fields.inference_ms),
    attempts: num(fields.attempts) ?? 0,
    resultKey: fields.result_key || null,
    resultMimeType: fields.result_mime_type || null,
    resultSizeBytes: num(fields.result_size_bytes),
    resultExpiresAt: num(fields.result_expires_at),
    error: fields.error || null,
    failureReasonCode: code.success ? code.data : null,
    retryable: fields.retryable === undefined || fields.retryable === '' ? null : fields.retryable === '1',
    metadata: fields.metadata ? (JSON.parse(fields.metadata) as Record<string, unknown>) : null,
    lane: fields.lane || null,
    ahead: num(fields.__ahead),
  };
}

/** The READ script's answer (a field/value list, or nil for unknown and foreign ids) as a record. */
function fromReadReply(jobId: string, reply: unknown): JobRecord | null {
  if (!reply) return null;
  const list = reply as string[];
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) fields[list[i]!] = list[i + 1]!;
  return parseRecord(jobId, fields);
}

function toPairs(fields: Record<string, string | number | null | undefined>): string[] {
  const pairs: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined && value !== null) pairs.push(name, String(value));
  }
  return pairs;
}

export interface NewJob {
  jobId: string;
  tenantId: string;
  lane: string;
  /** SPEC priority 0..10; jobs above 0 wait in the tenant's priority lane, highest first. */
  priority?: number;
  queuedAt: number;
  profileId?: string;
  profileVersion?: number;
  metadata?: Record<string, unknown>;
  callbackUrl?: string;
}

export type StartResult =
  | { kind: 'started'; attempts: number; seed: number; prompt: string }
  | { kind: 'terminal'; status: JobStatusNameType }
  | { kind: 'missing' };

export interface FinishResult {
  /** False when the job had already ended (or is unknown): nothing changed. */
  changed: boolean;
  /** The status before (when changed) or the status it already had. */
  previous: JobStatusNameType | null;
  callbackUrl: string | null;
  campaignId: string | null;
  /** True for the one transition that ended the last job of a campaign. */
  campaignDone: boolean;
}

export interface FinishFields {
  error?: string;
  failure_reason_code?: FailureReasonCode;
  retryable?: boolean;
  inference_ms?: number;
  result_key?: string;
  result_mime_type?: string;
  result_size_bytes?: number;
  result_expires_at?: number;
}

const flags = (fields: FinishFields) => ({
  ...fields,
  retryable: fields.retryable === undefined ? undefined : fields.retryable ? '1' : '0',
});

/**
 * The per-job status record (SPEC §4): written by the API and the workers, read by status polls in one
 * round trip whatever the queue depth. BullMQ holds the work; this record holds the truth users see.
 */
export function createJobStore(deps: { redis: Redis; keys: RedisKeys; retentionSeconds: number }) {
  const { redis, keys } = deps;
  const run = scriptsOf(redis);
  const P = keys.prefix;

  async function finish(
    jobId: string,
    status: 'completed' | 'failed' | 'cancelled',
    fields: FinishFields,
    tenantId = '',
  ): Promise<FinishResult> {
    const reply = (await run.jobFinish(
      keys.job(jobId),
      P,
      jobId,
      status,
      Date.now(),
      deps.retentionSeconds,
      tenantId,
      ...toPairs(flags(fields)),
    )) as [number, string, string?, string?, number?];
    const [changed, previous, callbackUrl, campaignId, done] = reply;
    return {
      changed: changed === 1,
      previous: previous ? JobStatusName.parse(previous) : null,
      callbackUrl: callbackUrl || null,
      campaignId: campaignId || null,
      campaignDone: done === 1,
    };
  }

  return {
    keys,

    /** Records a new queued job; throws 429 when the tenant has too many jobs not yet ended. */
    async create(job: NewJob, maxInFlight: number): Promise<{ seq: number; ahead: number }> {
      const fields = {
        tenant: job.tenantId,
        status: 'queued',
        progress: 0,
        endpoint: '/generate/image/v1',
        profile_id: job.profileId,
        profile_version: job.profileVersion,
        queued_at: job.queuedAt,
        attempts: 0,
        metadata: job.metadata ? JSON.stringify(job.metadata) : undefined,
        lane: job.lane,
        callback_url: job.callbackUrl,
      };
      const [seq, ahead] = (await run.jobCreate(
        keys.job(job.jobId),
        P,
        job.jobId,
        job.tenantId,
        job.lane,
        maxInFlight,
        job.priority ? bullPriority(job.priority) * 1e12 : 0,
        ...toPairs(fields),
      )) as [number, number?];
      if (seq === -2) {
        throw new AppError(
          'CONCURRENT_JOBS_EXCEEDED',
          `this tenant already has ${ahead} jobs queued or running (limit ${maxInFlight}); wait for some to finish`,
          { headers: { 'Retry-After': '5' } },
        );
      }
      if (seq === -1) throw new AppError('CONFLICT', `job ${job.jobId} already exists`);
      return { seq, ahead: ahead ?? 0 };
    },

    async discard(jobId: string): Promise<void> {
      await run.jobDiscard(keys.job(jobId), P, jobId);
    },

    /** The job as its tenant sees it; null for unknown and foreign ids alike. */
    async read(tenantId: string, jobId: string): Promise<JobRecord | null> {
      return fromReadReply(jobId, await run.jobRead(keys.job(jobId), P, jobId, tenantId));
    },

    /** Many statuses in one round trip (a page of a campaign's jobs). */
    async readMany(tenantId: string, jobIds: readonly string[]): Promise<(JobRecord | null)[]> {
      if (!jobIds.length) return [];
      // Scripts defined with defineCommand exist on pipelines too, where they queue rather than run.
      const pipeline = redis.pipeline() as unknown as {
        jobRead(...args: (string | number)[]): unknown;
        exec(): Promise<[Error | null, unknown][]>;
      };
      for (const jobId of jobIds) pipeline.jobRead(keys.job(jobId), P, jobId, tenantId);
      const results = await pipeline.exec();
      return results.map(([err, reply], i) => {
        if (err) throw err;
        return fromReadReply(jobIds[i]!, reply);
      });
    },

    /** Reads fields without a tenant check, for the worker that holds the job. */
    async peek(jobId: string, ...fields: string[]): Promise<(string | null)[]> {
      return redis.hmget(keys.job(jobId), ...fields);
    },

    async start(
      jobId: string,
      attempt: {
        worker: string;
        prompt: string;
        seed: number;
        materialize?: Record<string, string | number | undefined>;
      },
    ): Promise<StartResult> {
      const reply = (await run.jobStart(
        keys.job(jobId),
        P,
        jobId,
        Date.now(),
        attempt.worker,
        attempt.prompt,
        attempt.seed,
      )) as [string, (string | number)?, string?, string?];
      if (reply[0] === 'started') {
        return {
          kind: 'started',
          attempts: Number(reply[1]),
          seed: Number(reply[2]),
          prompt: String(reply[3]),
        };
      }
      if (reply[0] === 'terminal') return { kind: 'terminal', status: JobStatusName.parse(reply[1]) };
      return { kind: 'missing' };
    },

    async progress(jobId: string, percent: number): Promise<void> {
      await run.jobProgress(keys.job(jobId), P, jobId, Math.max(0, Math.min(99, Math.floor(percent))));
    },

    /** processing → pending while the job waits out a retry back-off. */
    async retry(jobId: string, failure: { error: string; code: FailureReasonCode }): Promise<boolean> {
      const changed = await run.jobRetry(
        keys.job(jobId),
        P,
        jobId,
        'error',
        failure.error,
        'failure_reason_code',
        failure.code,
        'retryable',
        '1',
      );
      return changed === 1;
    },

    finish,

    /** Cancels a job of this tenant that has not ended (SPEC §4). */
    cancel(tenantId: string, jobId: string): Promise<FinishResult> {
      return finish(
        jobId,
        'cancelled',
        { error: 'the job was cancelled', failure_reason_code: 'CANCELLED', retryable: false },
        tenantId,
      );
    },

    /** Jobs by live state across the deployment. */
    async stateCounts(): Promise<Record<'queued' | 'processing' | 'pending', number>> {
      const [queued, processing, pending] = await redis.hmget(keys.stats, 'queued', 'processing', 'pending');
      return {
        queued: Number(queued ?? 0),
        processing: Number(processing ?? 0),
        pending: Number(pending ?? 0),
      };
    },
  };
}
export type JobStore = ReturnType<typeof createJobStore>;
