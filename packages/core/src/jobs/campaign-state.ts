import { type CampaignCounts } from '@castforge/schemas';
import { type ChainableCommander, type Redis } from 'ioredis';
import { AppError } from '../errors';
import { type CampaignIds } from './job-ids';
import { MAX_EVENTS_KEPT } from './job-store';
import { CAMPAIGN_STATUS_INDEXES, type RedisKeys } from './keys';
import { waitForReplicas } from '../redis/connection';
import { callScript, defineScripts } from './scripts';

export interface CampaignLive {
  campaignId: string;
  tenantId: string;
  name: string;
  operation: string;
  jobCount: number;
  profileCount: number;
  sceneCount: number;
  variants: number;
  priority: number;
  metadata: Record<string, unknown> | null;
  counts: CampaignCounts;
  cancelled: boolean;
  done: boolean;
  createdAt: number;
  finishedAt: number | null;
  /** Average cost of a job in steps × megapixels, for the ETA. */
  unitsPerJob: number;
  /** Jobs enqueued so far (all of them once enqueuing is over). */
  enqueued: number;
  /** The sealed callback URL, if the campaign has one. */
  sealedCallbackUrl: string | null;
}

const COUNT_FIELDS = ['queued', 'pending', 'processing', 'completed', 'failed', 'cancelled'] as const;

export function parseCampaignLive(campaignId: string, f: Record<string, string>): CampaignLive | null {
  if (!f.tenant) return null;
  const counts = Object.fromEntries(
    COUNT_FIELDS.map((name) => [name, Number(f[name] ?? 0)]),
  ) as CampaignCounts;
  return {
    campaignId,
    tenantId: f.tenant,
    name: f.name ?? '',
    operation: f.op ?? 'generate',
    jobCount: Number(f.job_count ?? 0),
    profileCount: Number(f.profile_count ?? 0),
    sceneCount: Number(f.scene_count ?? 0),
    variants: Number(f.variants ?? 1),
    priority: Number(f.priority ?? 0),
    metadata: f.metadata ? (JSON.parse(f.metadata) as Record<string, unknown>) : null,
    counts,
    cancelled: f.is_cancelled === '1',
    done: f.done === '1',
    createdAt: Number(f.created_at ?? 0),
    finishedAt: f.finished_at ? Number(f.finished_at) : null,
    unitsPerJob: Number(f.units_per_job ?? 1),
    enqueued: Number(f.enq_cursor ?? 0),
    sealedCallbackUrl: f.callback_url || null,
  };
}

export interface CampaignSetup {
  campaignId: string;
  tenantId: string;
  name: string;
  operation: string;
  priority: number;
  lane: string;
  jobCount: number;
  /** Jobs per profile: scenes × variants (a job's profile is index ÷ this). */
  perProfile: number;
  variants: number;
  /** "profile_id:version" for each profile, in order. */
  profiles: string[];
  /** Each scene's metadata as JSON, or ''. */
  sceneMetadata: string[];
  metadata: Record<string, unknown> | null;
  sealedCallbackUrl: string | null;
  unitsPerJob: number;
}

/** How long an enqueuer may go without progress before another process takes over its campaign. */
export const ENQUEUE_LEASE_MS = 30_000;

/**
 * A campaign's live state in Redis: its counters (moved by the same scripts that move its jobs), what a
 * waiting job's status is derived from, and who enqueues it. Every read is constant-cost whatever its size.
 */
export function createCampaignState(deps: {
  redis: Redis;
  keys: RedisKeys;
  ids: CampaignIds;
  retentionSeconds: number;
  /** Replicas that must hold an accepted campaign and its jobs before they are answered (REDIS_WAIT_REPLICAS). */
  durability?: { replicas: number; timeoutMs: number };
}) {
  const { redis, keys } = deps;
  defineScripts(redis);
  const bucketOf = (tenantId: string) => keys.forTenant(tenantId);
  const durable = async (key: string) => {
    if (deps.durability?.replicas) {
      await waitForReplicas(redis, key, deps.durability.replicas, deps.durability.timeoutMs);
    }
  };

  return {
    /** Records the campaign, reserves its jobs against the tenant's limit, and makes `owner` its enqueuer. */
    async create(setup: CampaignSetup, maxInFlight: number, owner: string): Promise<void> {
      const b = bucketOf(setup.tenantId);
      const extra: (string | number)[] = [
        'name',
        setup.name,
        'op',
        setup.operation,
        'profile_count',
        setup.profiles.length,
        'priority',
        setup.priority,
        'per_profile',
        setup.perProfile,
        'variants',
        setup.variants,
        'units_per_job',
        setup.unitsPerJob,
      ];
      if (setup.metadata) extra.push('metadata', JSON.stringify(setup.metadata));
      if (setup.sealedCallbackUrl) extra.push('callback_url', setup.sealedCallbackUrl);
      const now = Date.now();
      const [result, inflight] = (await callScript(
        redis,
        'campaignCreate',
        [
          b.campaign(setup.campaignId),
          b.campaignProfiles(setup.campaignId),
          b.campaignScenes(setup.campaignId),
          b.stats,
          b.inflight,
          b.campaigns,
          b.enqueuing,
          b.laneSeq(setup.lane),
          b.bull(setup.lane).meta,
        ],
        [
          setup.campaignId,
          setup.tenantId,
          setup.lane,
          setup.jobCount,
          maxInFlight,
          now,
          owner,
          now + ENQUEUE_LEASE_MS,
          MAX_EVENTS_KEPT,
          setup.profiles.length,
          ...setup.profiles,
          setup.sceneMetadata.length,
          ...setup.sceneMetadata,
          ...extra,
        ],
      )) as [number, number?];
      if (result === -2) {
        throw new AppError(
          'CONCURRENT_JOBS_EXCEEDED',
          `this campaign's ${setup.jobCount} jobs would exceed the tenant's limit of ${maxInFlight} jobs queued or ` +
            `running (${inflight} now); wait for some to finish or split the campaign`,
          { headers: { 'Retry-After': '30' } },
        );
      }
      if (result === -1) throw new AppError('CONFLICT', `campaign ${setup.campaignId} already exists`);
      await durable(b.campaign(setup.campaignId));
    },

    async exists(tenantId: string, campaignId: string): Promise<boolean> {
      return (await redis.exists(bucketOf(tenantId).campaign(campaignId))) === 1;
    },

    /**
     * Adds a chunk of a campaign's jobs (queued on one pipeline by `queue.add`), then, once they all landed,
     * advances the enqueue cursor and marks the lane ready. False when `owner` lost the lease.
     */
    async enqueueChunk(
      tenantId: string,
      campaign: { campaignId: string; lane: string },
      owner: string,
      cursor: number,
      queue: {
        /** A pipeline on the connection BullMQ uses (its client wraps ours; the scripts exist on both). */
        pipeline: () => Promise<ChainableCommander>;
        add: (pipeline: ChainableCommander) => void;
      },
    ): Promise<boolean> {
      const b = bucketOf(tenantId);
      const pipeline = await queue.pipeline();
      pipeline.hsetnx(b.bull(campaign.lane).meta, 'opts.maxLenEvents', MAX_EVENTS_KEPT);
      queue.add(pipeline);
      // The cursor moves only once every add of the chunk is known to have landed: a chunk with a failed add
      // is left where it was, for this enqueuer's retry or another's takeover (a re-add is a no-op).
      const failed = ((await pipeline.exec()) ?? []).find(([err]) => err);
      if (failed?.[0]) throw failed[0];
      const now = Date.now();
      const kept = await callScript(
        redis,
        'campaignEnqueued',
        [b.campaign(campaign.campaignId), b.enqueuing, b.ready],
        [
          campaign.campaignId,
          owner,
          cursor,
          now,
          now + ENQUEUE_LEASE_MS,
          campaign.lane,
          keys.readyChannel,
          b.bucket,
        ],
      );
      await durable(b.campaign(campaign.campaignId));
      return kept === 1;
    },

    /** Takes over a campaign whose enqueuer stopped; the cursor to go on from, or null if not to be taken. */
    async takeover(tenantId: string, campaignId: string, owner: string): Promise<number | null> {
      const b = bucketOf(tenantId);
      const now = Date.now();
      const cursor = Number(
        await callScript(
          redis,
          'campaignTakeover',
          [b.campaign(campaignId), b.enqueuing],
          [campaignId, owner, now, now + ENQUEUE_LEASE_MS],
        ),
      );
      return cursor >= 0 ? cursor : null;
    },

    /** Campaigns of every bucket whose enqueuer's lease has run out. */
    async stalledEnqueues(): Promise<{ bucket: number; campaignId: string }[]> {
      const now = Date.now();
      const buckets = keys.allBuckets();
      const lists = await Promise.all(
        buckets.map((b) => redis.zrangebyscore(b.enqueuing, '-inf', now, 'LIMIT', 0, 20)),
      );
      return lists.flatMap((ids, i) => ids.map((campaignId) => ({ bucket: buckets[i]!.bucket, campaignId })));
    },

    /** The tenant a campaign of a bucket belongs to, while it is live. */
    async tenantOf(bucket: number, campaignId: string): Promise<string | null> {
      return redis.hget(keys.bucket(bucket).campaign(campaignId), 'tenant');
    },

    /** A new campaign's number, from which its id and its jobs' ids are derived. */
    async nextNumber(): Promise<number> {
      return redis.incr(keys.campaignSeq);
    },

    /** The ids of jobs `first` … `first + count - 1`, in order (derived, nothing stored per job). */
    jobIds(campaignId: string, first: number, count: number): string[] {
      const n = deps.ids.campaignNumber(campaignId);
      if (n === null) return [];
      return Array.from({ length: Math.max(0, count) }, (_, i) => deps.ids.jobId(n, first + i));
    },

    /** Job ids of a status that only started jobs have, from `fromIndex` on, with their indexes. */
    async jobsByStatus(
      tenantId: string,
      campaignId: string,
      status: string,
      fromIndex: number,
      limit: number,
    ): Promise<{ jobId: string; index: number }[]> {
      const flat = await redis.zrangebyscore(
        bucketOf(tenantId).campaignByStatus(campaignId, status),
        fromIndex,
        '+inf',
        'WITHSCORES',
        'LIMIT',
        0,
        limit,
      );
      const out: { jobId: string; index: number }[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) out.push({ jobId: flat[i]!, index: Number(flat[i + 1]) });
      return out;
    },

    async read(tenantId: string, campaignId: string): Promise<CampaignLive | null> {
      const live = parseCampaignLive(
        campaignId,
        await redis.hgetall(bucketOf(tenantId).campaign(campaignId)),
      );
      return live?.tenantId === tenantId ? live : null;
    },

    /**
     * Cancels every job not yet ended: the waiting ones at once, the started ones record by record (their keys
     * declared, in rounds until none is left). Returns how it went and the ids of started jobs it ended.
     */
    async cancel(
      tenantId: string,
      campaignId: string,
    ): Promise<{
      outcome: 'cancelled' | 'ended' | 'missing';
      waiting: number;
      done: boolean;
      jobIds: string[];
    }> {
      const b = bucketOf(tenantId);
      const ended: string[] = [];
      let declared = [
        ...(await redis.zrange(b.campaignByStatus(campaignId, 'pending'), 0, -1)),
        ...(await redis.zrange(b.campaignByStatus(campaignId, 'processing'), 0, -1)),
      ];
      let waiting = 0;
      let done = false;
      for (let phase = 1; ; phase++) {
        const reply = (await callScript(
          redis,
          'campaignCancel',
          [
            b.campaign(campaignId),
            b.stats,
            b.inflight,
            b.running,
            b.outbox,
            b.campaigns,
            ...CAMPAIGN_STATUS_INDEXES.map((s) => b.campaignByStatus(campaignId, s)),
            ...declared.map((id) => b.job(id)),
          ],
          [
            campaignId,
            tenantId,
            Date.now(),
            deps.retentionSeconds,
            keys.cancelChannel,
            phase === 1 ? '1' : '2',
            ...declared,
          ],
        )) as [string, number?, number?, ...string[]];
        const [outcome, cancelledWaiting, campaignDone, ...left] = reply;
        if (outcome !== 'cancelled') {
          if (phase === 1)
            return { outcome: outcome as 'ended' | 'missing', waiting: 0, done: false, jobIds: [] };
          break;
        }
        if (phase === 1) waiting = Number(cancelledWaiting ?? 0);
        ended.push(...declared);
        done ||= campaignDone === 1;
        if (!left.length || phase > 20) break;
        declared = left;
      }
      return { outcome: 'cancelled', waiting, done, jobIds: ended };
    },

    /** Campaigns of every bucket that ended and whose retention has passed. */
    async dueToForget(): Promise<{ bucket: number; campaignId: string }[]> {
      const now = Date.now();
      const buckets = keys.allBuckets();
      const lists = await Promise.all(
        buckets.map((b) => redis.zrangebyscore(b.campaigns, 1, now, 'LIMIT', 0, 10)),
      );
      return lists.flatMap((ids, i) => ids.map((campaignId) => ({ bucket: buckets[i]!.bucket, campaignId })));
    },

    /** Forgets an ended campaign's live state once its retention passed (MongoDB keeps its outcome). */
    async forget(bucket: number, campaignId: string): Promise<void> {
      const b = keys.bucket(bucket);
      if ((await redis.zrem(b.campaigns, campaignId)) !== 1) return;
      await redis.unlink(
        b.campaign(campaignId),
        b.campaignProfiles(campaignId),
        b.campaignScenes(campaignId),
        ...CAMPAIGN_STATUS_INDEXES.map((s) => b.campaignByStatus(campaignId, s)),
      );
    },
  };
}
export type CampaignState = ReturnType<typeof createCampaignState>;
