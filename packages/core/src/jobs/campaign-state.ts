import { type CampaignCounts } from '@castforge/schemas';
import { type Redis } from 'ioredis';
import { AppError } from '../errors';
import { type RedisKeys } from './keys';
import { scriptsOf } from './run-scripts';

export interface CampaignLive {
  campaignId: string;
  tenantId: string;
  name: string;
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
  };
}

export interface CampaignSetup {
  campaignId: string;
  tenantId: string;
  name: string;
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

/**
 * A campaign's live state in Redis: its counters (moved by the same scripts that move its jobs), the
 * references that let a waiting job's status be read without a record of its own, and its job ids in
 * order. All reads are constant-cost whatever the campaign's size.
 */
export function createCampaignState(deps: { redis: Redis; keys: RedisKeys; retentionSeconds: number }) {
  const { redis, keys } = deps;
  const run = scriptsOf(redis);
  const P = keys.prefix;

  const jobsWithIds = async (campaignId: string) =>
    Math.floor((await redis.strlen(keys.campaignIds(campaignId))) / 8);

  const jobIds = async (campaignId: string, first: number, count: number): Promise<string[]> => {
    if (count <= 0) return [];
    const raw = await redis.getrangeBuffer(keys.campaignIds(campaignId), first * 8, (first + count) * 8 - 1);
    const ids: string[] = [];
    for (let at = 0; at + 8 <= raw.length; at += 8)
      ids.push(`job_${raw.subarray(at, at + 8).toString('hex')}`);
    return ids;
  };

  return {
    /** Records the campaign and reserves its jobs against the tenant's in-flight limit. */
    async create(setup: CampaignSetup, maxInFlight: number): Promise<void> {
      const extra: (string | number)[] = [
        'name',
        setup.name,
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
      const [result, inflight] = (await run.campaignCreate(
        keys.campaign(setup.campaignId),
        P,
        setup.campaignId,
        setup.tenantId,
        setup.lane,
        setup.jobCount,
        maxInFlight,
        Date.now(),
        setup.profiles.length,
        ...setup.profiles,
        setup.sceneMetadata.length,
        ...setup.sceneMetadata,
        ...extra,
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
    },

    /** Records the ids of jobs `first`… of a campaign: where each belongs, and the ordered id list. */
    async addJobRefs(campaignId: string, first: number, jobIds: readonly string[]): Promise<void> {
      const pipeline = redis.pipeline();
      jobIds.forEach((jobId, offset) => {
        pipeline.hset(keys.jobRef(jobId), jobId.slice(7), `${campaignId}:${first + offset}`);
      });
      // The id list is append-only; its length says how many jobs have ids (used to resume).
      pipeline.setrange(
        keys.campaignIds(campaignId),
        first * 8,
        Buffer.from(jobIds.map((id) => id.slice(4)).join(''), 'hex'),
      );
      const results = await pipeline.exec();
      const failed = results?.find(([err]) => err);
      if (failed?.[0]) throw failed[0];
    },

    /** How many jobs already have ids (after a crash mid-enqueue). */
    jobsWithIds,
    /** The ids of jobs `first` … `first + count - 1`, in order. */
    jobIds,

    /** Job ids of a status that only started jobs have, from `fromIndex` on, with their indexes. */
    async jobsByStatus(
      campaignId: string,
      status: string,
      fromIndex: number,
      limit: number,
    ): Promise<{ jobId: string; index: number }[]> {
      const flat = await redis.zrangebyscore(
        keys.campaignByStatus(campaignId, status),
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

    async read(campaignId: string): Promise<CampaignLive | null> {
      return parseCampaignLive(campaignId, await redis.hgetall(keys.campaign(campaignId)));
    },

    /** Cancels every job not yet ended. Returns the ids of jobs that were pending or running. */
    async cancel(
      tenantId: string,
      campaignId: string,
    ): Promise<{
      outcome: 'cancelled' | 'ended' | 'missing';
      waiting: number;
      done: boolean;
      jobIds: string[];
    }> {
      const reply = (await run.campaignCancel(
        keys.campaign(campaignId),
        P,
        campaignId,
        tenantId,
        Date.now(),
        deps.retentionSeconds,
      )) as [string, number?, number?, ...string[]];
      const [outcome, waiting, done, ...jobIds] = reply;
      return {
        outcome: outcome as 'cancelled' | 'ended' | 'missing',
        waiting: Number(waiting ?? 0),
        done: done === 1,
        jobIds,
      };
    },

    /**
     * Forgets a campaign's live state once it has ended and its retention passed: its references, id list,
     * counters and indexes. Done in batches, so a 100,000-job campaign never blocks Redis.
     */
    async forget(campaignId: string): Promise<void> {
      const total = await jobsWithIds(campaignId);
      for (let first = 0; first < total; first += 1000) {
        const ids = await jobIds(campaignId, first, Math.min(1000, total - first));
        const pipeline = redis.pipeline();
        for (const id of ids) pipeline.hdel(keys.jobRef(id), id.slice(7));
        await pipeline.exec();
      }
      await redis.unlink(
        keys.campaign(campaignId),
        keys.campaignIds(campaignId),
        keys.campaignProfiles(campaignId),
        keys.campaignScenes(campaignId),
        ...['pending', 'processing', 'completed', 'failed', 'cancelled'].map((s) =>
          keys.campaignByStatus(campaignId, s),
        ),
      );
    },
  };
}
export type CampaignState = ReturnType<typeof createCampaignState>;
