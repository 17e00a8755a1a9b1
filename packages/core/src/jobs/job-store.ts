import { type FailureReasonCode, JobStatusName } from '@castforge/schemas';
import { type ChainableCommander, type Redis } from 'ioredis';
import { AppError } from '../errors';
import { OutcomeUnknownError } from '../outage';
import { type CampaignIds } from './job-ids';
import { type JobRecord, recordFromReply, toPairs } from './job-record';
import { type BucketKeys, CAMPAIGN_STATUS_INDEXES, type RedisKeys, campaignLaneFor, lanesOf } from './keys';
import { isCluster, waitForReplicas } from '../redis/connection';
import { type Transaction } from './lane-queues';
import { callScript, defineScripts } from './scripts';

export * from './job-record';

/** Which job, whose, and (for a campaign job) which campaign and index: what a script's keys are built from. */
export interface JobRef {
  jobId: string;
  tenantId: string;
  campaign?: { campaignId: string; index: number };
}

export interface NewJob {
  jobId: string;
  tenantId: string;
  lane: string;
  /** Order within the lane: BullMQ priority × 1e12 in a priority lane, else 0. */
  orderBase: number;
  /** The record's fields (op, profile, metadata, sealed callback URL and inputs, units, …). */
  fields: Record<string, string | number | boolean | null | undefined>;
}

export type StartResult =
  | { kind: 'started'; attempts: number; seed: number; prompt: string }
  | { kind: 'terminal'; status: JobStatusName }
  | { kind: 'missing' };

export interface FinishResult {
  /** False when the job had already ended (or is unknown): nothing changed. */
  changed: boolean;
  /** The status before (when changed) or the status it already had. */
  previous: JobStatusName | null;
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

export interface FinishOptions {
  /** Only a job of this tenant (the API's cancel); the worker that holds a job leaves it out. */
  tenantId?: string;
  /** Indexes a stored result for the expiry sweep. */
  result?: { key: string; expiresAt: number };
  /** The inference's duration and cost, for estimates. */
  sample?: { ms: number; units: number };
  /** The reconciler: end the job only if its BullMQ job is gone (`lane` names where it was). */
  onlyIfGoneFrom?: string;
}

/** A tenant's monthly usage counters are kept this long (the month, and the next two to look back). */
const USAGE_RETENTION_SECONDS = 100 * 24 * 3600;

/** The calendar month (UTC) a usage counter belongs to, as YYYY-MM. */
export const monthOf = (ms: number) => new Date(ms).toISOString().slice(0, 7);

/** Maximum events BullMQ keeps per lane (it defaults to 10,000; nothing of ours reads them). */
export const MAX_EVENTS_KEPT = 10;

const campaignBlock = (b: BucketKeys, campaignId: string) => [
  b.campaign(campaignId),
  ...CAMPAIGN_STATUS_INDEXES.map((status) => b.campaignByStatus(campaignId, status)),
  b.campaignProfiles(campaignId),
  b.campaignScenes(campaignId),
];

/**
 * The per-job status record (SPEC §4): written only by the scripts, read by status polls in one round trip
 * whatever the queue depth. BullMQ holds the work; this record holds the truth users see.
 */
export function createJobStore(deps: {
  redis: Redis;
  keys: RedisKeys;
  ids: CampaignIds;
  retentionSeconds: number;
  /** Replicas that must hold an accepted job before it is answered (REDIS_WAIT_REPLICAS). */
  durability?: { replicas: number; timeoutMs: number };
}) {
  const { redis, keys, ids } = deps;
  defineScripts(redis);

  /** A job id as seen by the API: if it can be a campaign job, the campaign it would belong to. */
  const refOf = (tenantId: string, jobId: string): JobRef => {
    const parsed = ids.parseJobId(jobId);
    return parsed
      ? { jobId, tenantId, campaign: { campaignId: ids.campaignId(parsed.n), index: parsed.index } }
      : { jobId, tenantId };
  };
  const campaignKeysOf = (b: BucketKeys, ref: JobRef) =>
    ref.campaign ? campaignBlock(b, ref.campaign.campaignId) : [];
  const campaignArgs = (ref: JobRef) =>
    ref.campaign ? [ref.campaign.index, ref.campaign.campaignId] : ['', ''];

  function readArgs(tenantId: string, jobId: string) {
    const ref = refOf(tenantId, jobId);
    const b = keys.forTenant(tenantId);
    const lanes = lanesOf(tenantId);
    return {
      keys: [
        b.job(jobId),
        b.laneQueue(lanes.normal),
        b.laneQueue(lanes.high),
        b.laneSeq(lanes.campaign),
        ...campaignKeysOf(b, ref),
      ],
      args: [jobId, tenantId, ...campaignArgs(ref)],
    };
  }

  async function finish(
    ref: JobRef,
    status: 'completed' | 'failed' | 'cancelled',
    fields: FinishFields,
    options: FinishOptions = {},
  ): Promise<FinishResult> {
    const b = keys.forTenant(ref.tenantId);
    const lanes = lanesOf(ref.tenantId);
    const bullLane = options.onlyIfGoneFrom ?? lanes.normal;
    const reply = (await callScript(
      redis,
      'jobFinish',
      [
        b.job(ref.jobId),
        b.stats,
        b.inflight,
        b.running,
        b.outbox,
        b.results,
        b.durations,
        b.campaigns,
        b.laneQueue(lanes.normal),
        b.laneQueue(lanes.high),
        b.bullJob(bullLane, ref.jobId),
        b.usage(ref.tenantId, monthOf(Date.now())),
        b.bullJob(lanes.high, ref.jobId),
        ...campaignKeysOf(b, ref),
      ],
      [
        ref.jobId,
        status,
        Date.now(),
        deps.retentionSeconds,
        options.tenantId ?? '',
        ...campaignArgs(ref),
        keys.cancelChannel,
        options.onlyIfGoneFrom ? '1' : '',
        options.result?.key ?? '',
        options.result?.expiresAt ?? '',
        options.sample ? `${Math.round(options.sample.ms)}:${options.sample.units.toFixed(4)}` : '',
        USAGE_RETENTION_SECONDS,
        ...toPairs({ ...fields }),
      ],
    )) as [number, string, number?];
    const [changed, previous, done] = reply;
    return {
      changed: changed === 1,
      previous: previous ? JobStatusName.parse(previous) : null,
      campaignDone: done === 1,
    };
  }

  return {
    keys,
    ids,
    refOf,

    /**
     * Records a new queued single job and adds it to BullMQ in ONE transaction (`addToQueue` queues the add
     * on the MULTI), so neither can exist without the other, whatever fails or times out.
     */
    async submit(
      job: NewJob,
      maxInFlight: number,
      queue: {
        /** A MULTI on which `jobCreate` and BullMQ's add are defined (see LaneQueues.transaction). */
        transaction: () => Promise<Transaction>;
        add: (multi: ChainableCommander) => void;
      },
    ): Promise<{ seq: number; ahead: number }> {
      const b = keys.forTenant(job.tenantId);
      const lanes = lanesOf(job.tenantId);
      const { multi, connection, retire } = await queue.transaction();
      // Only a Cluster client's connection is given up when the transaction fails: one that sent the MULTI again
      // cannot say which reply is whose. A single server's keeps its replies in step after a timeout, and the
      // MULTI it queued during a pause still runs (test/lifecycle-lost-replies.test.ts); closing it would drop it.
      const giveUp = isCluster(connection) ? retire : () => undefined;
      void callScript(
        multi,
        'jobCreate',
        [
          b.job(job.jobId),
          b.laneSeq(job.lane),
          b.laneQueue(job.lane),
          b.laneQueue(lanes.high),
          b.stats,
          b.inflight,
          b.ready,
          b.bull(job.lane).meta,
          b.bullJob(job.lane, job.jobId),
        ],
        [
          job.jobId,
          job.tenantId,
          job.lane,
          maxInFlight,
          job.orderBase,
          Date.now(),
          MAX_EVENTS_KEPT,
          keys.readyChannel,
          b.bucket,
          ...toPairs({ tenant: job.tenantId, status: 'queued', progress: 0, attempts: 0, ...job.fields }),
        ],
      );
      queue.add(multi);
      const results = await multi.exec().catch((err: unknown) => {
        giveUp();
        throw err;
      });
      const [createErr, reply] = results?.[0] ?? [null, null];
      if (createErr) throw createErr;
      if (!Array.isArray(reply)) {
        giveUp();
        throw new OutcomeUnknownError(`the submit transaction of ${job.jobId} answered no CREATE reply`);
      }
      const [seq, ahead] = reply as [number, number?];
      if (seq === -2) {
        throw new AppError(
          'CONCURRENT_JOBS_EXCEEDED',
          `this tenant already has ${ahead} jobs queued or running (limit ${maxInFlight}); wait for some to finish`,
          { headers: { 'Retry-After': '5' } },
        );
      }
      if (seq === -1) throw new AppError('CONFLICT', `job ${job.jobId} already exists`);
      const addErr = results?.[1]?.[0];
      if (addErr) {
        // The record exists but BullMQ refused the job: end it now rather than leave it queued forever.
        await finish({ jobId: job.jobId, tenantId: job.tenantId }, 'failed', {
          error: 'the job could not be queued',
          failure_reason_code: 'INTERNAL_ERROR',
          retryable: true,
        });
        throw addErr;
      }
      // Accepted only once a replica holds it too, when the deployment asks for that (SPEC §14). The job is in
      // either way: a WAIT that fails is answered as one that timed out, with a 202.
      if (deps.durability?.replicas) {
        await waitForReplicas(
          connection,
          b.job(job.jobId),
          deps.durability.replicas,
          deps.durability.timeoutMs,
        ).catch(giveUp);
      }
      return { seq, ahead: ahead ?? 0 };
    },

    /** Whether a job's record exists (after a submit whose reply was lost: did it happen?). */
    async exists(tenantId: string, jobId: string): Promise<boolean> {
      return (await redis.exists(keys.forTenant(tenantId).job(jobId))) === 1;
    },

    /** The job as its tenant sees it; null for unknown and foreign ids alike. */
    async read(tenantId: string, jobId: string): Promise<JobRecord | null> {
      const { keys: k, args } = readArgs(tenantId, jobId);
      return recordFromReply(jobId, await callScript(redis, 'jobRead', k, args));
    },

    /** Many statuses in one round trip (a page of a campaign's jobs). */
    async readMany(tenantId: string, jobIds: readonly string[]): Promise<(JobRecord | null)[]> {
      if (!jobIds.length) return [];
      const pipeline = redis.pipeline();
      for (const jobId of jobIds) {
        const { keys: k, args } = readArgs(tenantId, jobId);
        void callScript(pipeline, 'jobRead', k, args);
      }
      const results = (await pipeline.exec()) ?? [];
      return results.map(([err, reply], i) => {
        if (err) throw err;
        return recordFromReply(jobIds[i]!, reply);
      });
    },

    /** Reads fields without a tenant check, for the worker that holds the job. */
    async peek(ref: Pick<JobRef, 'jobId' | 'tenantId'>, ...fields: string[]): Promise<(string | null)[]> {
      return redis.hmget(keys.forTenant(ref.tenantId).job(ref.jobId), ...fields);
    },

    async start(
      ref: JobRef,
      attempt: { prompt: string; seed: number; fields?: Record<string, string | undefined> },
    ): Promise<StartResult> {
      const b = keys.forTenant(ref.tenantId);
      const lanes = lanesOf(ref.tenantId);
      const reply = (await callScript(
        redis,
        'jobStart',
        [
          b.job(ref.jobId),
          b.stats,
          b.running,
          b.laneQueue(lanes.normal),
          b.laneQueue(lanes.high),
          b.laneSeq(campaignLaneFor(ref.tenantId)),
          ...campaignKeysOf(b, ref),
        ],
        [
          ref.jobId,
          Date.now(),
          attempt.prompt,
          attempt.seed,
          ...campaignArgs(ref),
          ...toPairs(attempt.fields ?? {}),
        ],
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

    async progress(ref: JobRef, percent: number): Promise<void> {
      const b = keys.forTenant(ref.tenantId);
      await callScript(
        redis,
        'jobProgress',
        [b.job(ref.jobId)],
        [Math.max(0, Math.min(99, Math.floor(percent)))],
      );
    },

    /**
     * processing → pending: a retryable failure with attempts left (the attempt's failure is shown), or a job
     * handed back by a worker that is shutting down (no failure).
     */
    async retry(ref: JobRef, failure?: { error: string; code: FailureReasonCode }): Promise<boolean> {
      const b = keys.forTenant(ref.tenantId);
      const changed = await callScript(
        redis,
        'jobRetry',
        [b.job(ref.jobId), b.stats, b.running, ...campaignKeysOf(b, ref)],
        [
          ref.jobId,
          Date.now(),
          ...(failure ? ['error', failure.error, 'failure_reason_code', failure.code, 'retryable', '1'] : []),
        ],
      );
      return changed === 1;
    },

    finish,

    /** Cancels a job of this tenant that has not ended (SPEC §4). */
    cancel(tenantId: string, jobId: string): Promise<FinishResult> {
      return finish(
        refOf(tenantId, jobId),
        'cancelled',
        { error: 'the job was cancelled', failure_reason_code: 'CANCELLED', retryable: false },
        { tenantId },
      );
    },

    /** Jobs by live state across the deployment: one HMGET per bucket, all in flight at once. */
    async stateCounts(): Promise<Record<'queued' | 'processing' | 'pending', number>> {
      // Not a pipeline: in a cluster the buckets live on different shards, and ioredis sends these to each.
      // Processing is not counted by the scripts: it is what `running` holds less the pending jobs.
      const rows = await Promise.all(
        keys
          .allBuckets()
          .map((b) => Promise.all([redis.hmget(b.stats, 'queued', 'pending'), redis.zcard(b.running)])),
      );
      const totals = { queued: 0, processing: 0, pending: 0 };
      for (const [[queued, pending], running] of rows) {
        totals.queued += Number(queued ?? 0);
        totals.pending += Number(pending ?? 0);
        totals.processing += Math.max(0, running - Number(pending ?? 0));
      }
      return totals;
    },

    /** What a tenant used in a month: jobs that ran (to any end) and their GPU seconds. */
    async usage(
      tenantId: string,
      month = monthOf(Date.now()),
    ): Promise<{ jobs: number; gpuSeconds: number }> {
      const [jobs, ms] = await redis.hmget(keys.forTenant(tenantId).usage(tenantId, month), 'jobs', 'gpu_ms');
      return { jobs: Number(jobs ?? 0), gpuSeconds: Number(ms ?? 0) / 1000 };
    },

    /** Jobs of a tenant not yet ended (what CONCURRENT_JOBS_EXCEEDED counts). */
    async inFlight(tenantId: string): Promise<number> {
      return Number((await redis.hget(keys.forTenant(tenantId).inflight, tenantId)) ?? 0);
    },
  };
}
export type JobStore = ReturnType<typeof createJobStore>;
