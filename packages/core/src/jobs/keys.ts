/**
 * Every Redis key the project writes, in one place (STYLE: scripts take their key names from here).
 *
 * Redis Cluster (SPEC §14): a Lua script may only touch keys of one hash slot. Each tenant belongs to one of
 * `buckets` buckets, and every key of that tenant — job records, lanes and their BullMQ queues, campaigns,
 * counters — carries the bucket's hash tag `{bN}`, so a job's transition and all its consequences (counters,
 * its campaign, the webhook outbox, the ready-lanes index) are one atomic script. Tenants spread over the
 * buckets, and buckets over the shards; the per-bucket aggregates (ready lanes, job counts by state, the
 * outbox) let a worker or a scrape see every tenant by reading `buckets` keys, never one key per tenant.
 * A single tenant stays in one bucket (one shard), whatever its size.
 *
 * `prefix` (REDIS_PREFIX) namespaces a deployment and lets each test file own its keys.
 */
export type LaneKind = 'high' | 'normal' | 'campaign';

/** BullMQ's key layout, `<prefix>:<queue>:<type>` (a test checks it against a real Queue's keys). */
const BULL_TYPES = [
  'wait',
  'active',
  'paused',
  'delayed',
  'prioritized',
  'stalled',
  'stalled-check',
  'meta',
  'events',
  'marker',
  'pc',
  'id',
  'limiter',
  'completed',
  'failed',
  'waiting-children',
  'repeat',
  'de',
] as const;
export type BullKeyType = (typeof BULL_TYPES)[number];

/** FNV-1a over the tenant id: stable across processes and languages, and spreads short ids well. */
export function bucketOf(tenantId: string, buckets: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < tenantId.length; i++) {
    hash ^= tenantId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % buckets;
}

/** The keys of one bucket: one hash slot. */
export function bucketKeys(prefix: string, bucket: number) {
  const tag = `${prefix}:{b${bucket}}`;
  const bull = (lane: string) => {
    const keys = {} as Record<BullKeyType, string>;
    for (const type of BULL_TYPES) keys[type] = `${tag}:${lane}:${type}`;
    return keys;
  };
  const ready = `${tag}:ready`;
  const laneSeq = (lane: string) => `${tag}:lane:${lane}`;
  const laneQueue = (lane: string) => `${tag}:laneq:${lane}`;
  const enqueuing = `${tag}:enqueuing`;
  return {
    bucket,
    tag,
    /** The KEYS of LANE-CHECK (lane-check.lua) for a lane of this bucket, in its order. */
    laneCheckKeys: (lane: string) => {
      const k = bull(lane);
      return [
        ready,
        laneSeq(lane),
        laneQueue(lane),
        k.wait,
        k.paused,
        k.prioritized,
        k.delayed,
        k.active,
        k.meta,
        k.events,
        k.marker,
        k.pc,
        k['stalled-check'],
        k.stalled,
        k.id,
        k.limiter,
        enqueuing,
      ];
    },
    /** BullMQ `prefix` of this bucket's lanes: their queues' keys carry the bucket's hash tag too. */
    bullPrefix: tag,
    bull,
    /** A BullMQ job's hash: `<prefix>:<lane>:<job id>`. */
    bullJob: (lane: string, jobId: string) => `${tag}:${lane}:${jobId}`,
    /** Per-job status record (hash): the one thing a status poll reads. */
    job: (jobId: string) => `${tag}:job:${jobId}`,
    /** Per-lane sequence counter (hash: seq): the order of jobs within a lane. */
    laneSeq,
    /** Queued single jobs of a lane in the order it serves them (sorted set): a position is one ZRANK. */
    laneQueue,
    /**
     * Lanes that hold any BullMQ job (sorted set, score = when a worker should next visit it): workers pick
     * the lane served least recently, so tenants take turns; empty lanes leave it (and their keys go).
     */
    ready,
    /** Jobs by live state in this bucket (hash: queued, processing, pending), for /metrics. */
    stats: `${tag}:stats`,
    /** Jobs not yet ended per tenant (hash: tenant → count), for CONCURRENT_JOBS_EXCEEDED. */
    inflight: `${tag}:inflight`,
    /** Jobs processing or pending (sorted set: job id → since when, ms), for the reconciler. */
    running: `${tag}:running`,
    /** What ended jobs and campaigns must still cause (stream): webhooks, campaign finalization. */
    outbox: `${tag}:outbox`,
    /** Stored results by expiry (sorted set: key → expiry ms), for the sweeper. */
    results: `${tag}:results`,
    /** What a tenant used in a calendar month (hash: jobs, gpu_ms), kept a few months. */
    usage: (tenantId: string, month: string) => `${tag}:usage:${tenantId}:${month}`,
    /** Which process is reconciling this bucket (string, expires): one at a time. */
    reconciling: `${tag}:reconciling`,
    /** Recent inference cost samples (list of "ms:units"), for estimates. */
    durations: `${tag}:durations`,
    /** Live campaigns of this bucket (sorted set: campaign id → 0 while running, forget-at ms once done). */
    campaigns: `${tag}:campaigns`,
    /** Campaigns still being enqueued (sorted set: campaign id → lease expiry ms). */
    enqueuing,
    /** A campaign's live state (hash): counters per status, flags, what a waiting job's status needs. */
    campaign: (campaignId: string) => `${tag}:camp:${campaignId}`,
    /** Jobs of a campaign that have a record, by status (sorted sets: job id → index). */
    campaignByStatus: (campaignId: string, status: string) => `${tag}:camp:${campaignId}:st:${status}`,
    /** "profile_id:version" per profile index (list). */
    campaignProfiles: (campaignId: string) => `${tag}:camp:${campaignId}:profiles`,
    /** Each scene's metadata as JSON, or '' (list). */
    campaignScenes: (campaignId: string) => `${tag}:camp:${campaignId}:scenes`,
  };
}
export type BucketKeys = ReturnType<typeof bucketKeys>;

export const CAMPAIGN_STATUS_INDEXES = ['pending', 'processing', 'completed', 'failed', 'cancelled'] as const;

export function redisKeys(prefix: string, buckets = 16) {
  const cache = new Map<number, BucketKeys>();
  const bucket = (index: number): BucketKeys => {
    let keys = cache.get(index);
    if (!keys) cache.set(index, (keys = bucketKeys(prefix, index)));
    return keys;
  };
  return {
    prefix,
    buckets,
    bucket,
    /** The keys of the bucket a tenant belongs to. */
    forTenant: (tenantId: string) => bucket(bucketOf(tenantId, buckets)),
    allBuckets: () => Array.from({ length: buckets }, (_, i) => bucket(i)),
    /** Campaign numbers (string counter): campaign and campaign-job ids are derived from them. */
    campaignSeq: `${prefix}:campseq`,
    /** Live worker processes, their GPU slots and operations (hash: worker id → JSON), by heartbeat. */
    workers: `${prefix}:workers`,
    /** Published with a job id when a job is cancelled, so the worker holding it lets go at once. */
    cancelChannel: `${prefix}:cancel`,
    /** Published with a bucket number when a lane there gets work, so idle workers look at once. */
    readyChannel: `${prefix}:ready`,
    /** Published with a tenant id when its webhook secret rotates, so workers stop using cached secrets. */
    secretsChannel: `${prefix}:webhooks:rotated`,
    idempotency: (tenantId: string, keyHash: string) => `${prefix}:idem:${tenantId}:${keyHash}`,
    /** Webhook deliveries: their BullMQ queue and records share one slot of their own. */
    webhooks: {
      bullPrefix: `${prefix}:{wh}`,
      /** A webhook delivery (hash): where to, what event, the attempt log. */
      delivery: (deliveryId: string) => `${prefix}:{wh}:whd:${deliveryId}`,
      /** The deliveries of one job or campaign (list of delivery ids). */
      deliveriesOf: (ownerId: string) => `${prefix}:{wh}:whd:of:${ownerId}`,
    },
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;

/**
 * One BullMQ queue per tenant and lane. A tenant's normal jobs wait FIFO in `gen.<tenant>`; jobs with a
 * priority above 0 wait in `gen.<tenant>.hi`, ordered by BullMQ priority; its campaigns' jobs wait in
 * `gen.<tenant>.camp`, so its single jobs never queue behind its own campaigns. Workers visit lanes
 * round-robin (see apps/worker/src/fetching), so one tenant's backlog never starves another's.
 */
export const laneFor = (tenantId: string, priority: number) =>
  priority > 0 ? `gen.${tenantId}.hi` : `gen.${tenantId}`;

export const campaignLaneFor = (tenantId: string) => `gen.${tenantId}.camp`;

export function parseLane(lane: string): { tenantId: string; kind: LaneKind } | null {
  const match = /^gen\.([a-z0-9][a-z0-9_-]{0,62})(\.hi|\.camp)?$/.exec(lane);
  if (!match?.[1]) return null;
  const kind: LaneKind = match[2] === '.hi' ? 'high' : match[2] === '.camp' ? 'campaign' : 'normal';
  return { tenantId: match[1], kind };
}

/** The tenant's three lanes. */
export const lanesOf = (tenantId: string) => ({
  high: `gen.${tenantId}.hi`,
  normal: `gen.${tenantId}`,
  campaign: campaignLaneFor(tenantId),
});

/** BullMQ priority: SPEC priority 10 (highest) → 1, 1 → 10; priority 0 never reaches the `hi` lane. */
export const bullPriority = (priority: number) => 11 - priority;
