/**
 * Every Redis key the project writes, in one place. `prefix` (REDIS_PREFIX) namespaces a deployment and
 * lets each test file own its keys. BullMQ's own keys live under `<prefix>:q`.
 */
export function redisKeys(prefix: string) {
  return {
    prefix,
    bullPrefix: `${prefix}:q`,
    /** Per-job status record (hash): the one thing a status poll reads. */
    job: (jobId: string) => `${prefix}:job:${jobId}`,
    /** Per-lane sequence counter (hash: seq), the order of jobs within a lane. */
    lane: (lane: string) => `${prefix}:lane:${lane}`,
    /** Queued jobs of a lane in the order it serves them (sorted set), so a position is one ZRANK. */
    laneQueue: (lane: string) => `${prefix}:laneq:${lane}`,
    /** Lanes that ever had a job (set), so workers can find every tenant's queue. */
    lanes: `${prefix}:lanes`,
    /** Published when a lane gets its first job, so workers start serving it at once. */
    lanesChannel: `${prefix}:lanes:new`,
    /** Jobs by state across the deployment (hash: queued, processing, pending), for /metrics. */
    stats: `${prefix}:stats`,
    /** Jobs not yet terminal per tenant (hash: tenant → count), for CONCURRENT_JOBS_EXCEEDED. */
    inflight: `${prefix}:inflight`,
    /** Published with a job id when a job is cancelled, so the worker holding it lets go at once. */
    cancelChannel: `${prefix}:cancel`,
    /** Recent inference cost samples (list of "ms:units"), for estimates from measured durations. */
    durations: `${prefix}:stats:durations`,
    /** Live worker processes and their GPU slots (hash: worker id → JSON), refreshed by heartbeat. */
    workers: `${prefix}:workers`,
    /** Stored results by expiry (sorted set: key scored by expiry ms), for the sweeper. */
    results: `${prefix}:results`,
    /** A campaign's live state (hash): counters per status, flags, what READ needs for its queued jobs. */
    campaign: (campaignId: string) => `${prefix}:camp:${campaignId}`,
    /** A campaign's job ids in index order, 8 bytes each (string): pages of its jobs without a scan. */
    campaignIds: (campaignId: string) => `${prefix}:camp:${campaignId}:ids`,
    /** "profile_id:version" per profile index (list), for the status of jobs not started yet. */
    campaignProfiles: (campaignId: string) => `${prefix}:camp:${campaignId}:profiles`,
    /** Each scene's metadata as JSON, or '' (list), for the same. */
    campaignScenes: (campaignId: string) => `${prefix}:camp:${campaignId}:scenes`,
    /** Jobs of a campaign that have a status record, by status (sorted sets scored by index). */
    campaignByStatus: (campaignId: string, status: string) => `${prefix}:camp:${campaignId}:st:${status}`,
    /** Ended campaigns whose live state is to be forgotten (sorted set scored by when). */
    campaignsToForget: `${prefix}:camp:forget`,
    /** Campaigns waiting in a lane (sorted set by their first sequence number), for queue positions. */
    laneCampaigns: (lane: string) => `${prefix}:lanec:${lane}`,
    /**
     * Where a campaign job belongs until it starts: hash buckets keyed by the id's first 3 hex digits,
     * field = the other 13, value = "<campaign_id>:<index>". Small hashes stay in Redis' compact encoding,
     * so this costs about 50 bytes a job instead of a key per job.
     */
    jobRef: (jobId: string) => `${prefix}:jx:${jobId.slice(4, 7)}`,
    idempotency: (tenantId: string, keyHash: string) => `${prefix}:idem:${tenantId}:${keyHash}`,
    /** Published with a tenant id when its webhook secret rotates, so workers stop using cached secrets. */
    secretsChannel: `${prefix}:webhooks:rotated`,
    /** A webhook delivery (hash): the sealed URL, the event body, the attempt log. */
    delivery: (deliveryId: string) => `${prefix}:whd:${deliveryId}`,
    /** The deliveries of one job or campaign (list of delivery ids). */
    deliveriesOf: (ownerId: string) => `${prefix}:whd:of:${ownerId}`,
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;

/**
 * One BullMQ queue per tenant and lane. A tenant's normal jobs wait FIFO in `gen.<tenant>`; jobs with a
 * priority above 0 wait in `gen.<tenant>.hi`, ordered by BullMQ priority; its campaigns' jobs wait in
 * `gen.<tenant>.camp`, so its single jobs never queue behind its own campaigns. Workers serve tenants
 * round-robin (see apps/worker/src/scheduling), so one tenant's backlog never starves another's.
 */
export const laneFor = (tenantId: string, priority: number) =>
  priority > 0 ? `gen.${tenantId}.hi` : `gen.${tenantId}`;

export const campaignLaneFor = (tenantId: string) => `gen.${tenantId}.camp`;

export type LaneKind = 'high' | 'normal' | 'campaign';

export function parseLane(lane: string): { tenantId: string; kind: LaneKind } | null {
  const match = /^gen\.([a-z0-9][a-z0-9_-]{0,62})(\.hi|\.camp)?$/.exec(lane);
  if (!match?.[1]) return null;
  const kind: LaneKind = match[2] === '.hi' ? 'high' : match[2] === '.camp' ? 'campaign' : 'normal';
  return { tenantId: match[1], kind };
}

/** BullMQ priority: SPEC priority 10 (highest) → 1, 1 → 10; priority 0 never reaches the `hi` lane. */
export const bullPriority = (priority: number) => 11 - priority;
