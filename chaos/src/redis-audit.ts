import { type Redis } from 'ioredis';

/**
 * EVERY piece of knowledge the chaos run has about castforge's Redis key layout is in this file, and
 * nowhere else: the invariants that the public API cannot show (in-flight counters, which keys may live
 * without a TTL) read Redis through here. When the key layout changes (issue #8: hash tags for Redis
 * Cluster, Lua scripts taking every key from keys.ts), this is the one file to update.
 *
 * Layout read here (today's packages/core/src/jobs/keys.ts, prefix P = REDIS_PREFIX):
 *   counters   P:inflight (hash tenant → jobs not terminal), P:stats (hash queued/processing/pending)
 *   permanent  the singletons and per-lane / per-queue keys of PERMANENT below
 *   scheduled  a campaign's live state (P:camp:<id>, P:camp:<id>:*, its P:jx:<bucket> references), kept
 *              without a TTL until the sweeper forgets it: allowed only once the campaign is in
 *              P:camp:forget (sorted set), i.e. finalized
 *   anything else must carry a TTL.
 */

/** Keys that may live forever, by name relative to the prefix. Each is a pattern and a reason. */
export const PERMANENT: readonly { name: string; pattern: RegExp; why: string; perTenant?: boolean }[] = [
  { name: 'stats', pattern: /^stats$/, why: 'deployment-wide job counters by state (for /metrics)' },
  { name: 'stats:durations', pattern: /^stats:durations$/, why: 'recent inference timings (a capped list)' },
  { name: 'inflight', pattern: /^inflight$/, why: 'jobs in flight per tenant (a field per tenant)' },
  { name: 'lanes', pattern: /^lanes$/, why: 'every lane that ever had a job (a member per lane)' },
  { name: 'workers', pattern: /^workers$/, why: 'live workers (entries refreshed by heartbeat)' },
  { name: 'results', pattern: /^results$/, why: 'stored results by expiry, for the sweeper' },
  { name: 'camp:forget', pattern: /^camp:forget$/, why: 'ended campaigns waiting to be forgotten' },
  {
    name: 'lane:<lane>',
    pattern: /^lane:gen\.[^:]+$/,
    why: 'a lane’s sequence counter; outlives its jobs',
    perTenant: true,
  },
  {
    name: 'q:<queue>:meta|id|events|pc',
    pattern: /^q:[^:]+:(meta|id|events|pc)$/,
    why: 'BullMQ’s own per-queue bookkeeping; one queue per lane',
    perTenant: true,
  },
];

export interface KeyAudit {
  total: number;
  withTtl: number;
  /** Permanent keys by PERMANENT name. */
  permanent: Record<string, number>;
  /** Keys without TTL that the campaign sweeper will remove (finalized campaigns' live state). */
  scheduled: number;
  /** Keys with neither a TTL nor a place in the allow-list: count, and up to 20 of them with their type. */
  unexpectedCount: number;
  unexpected: string[];
  /** Every key by class (the first segment after the prefix, BullMQ's by its last), for the report. */
  byClass: Record<string, number>;
}

export interface RedisAudit {
  /** Jobs not terminal per tenant, as the per-tenant limit (CONCURRENT_JOBS_EXCEEDED) counts them. */
  inflight: Record<string, number>;
  /** Jobs by live state across the deployment. */
  stats: Record<string, number>;
  keys: KeyAudit;
  usedMemoryBytes: number;
}

/** What this module reads, printed with the figures so a reader knows what "Redis says" means. */
export const AUDIT_SOURCES = [
  'HGETALL <P>:inflight (per-tenant jobs in flight)',
  'HGETALL <P>:stats (queued / processing / pending across the deployment)',
  'SCAN <P>:* with TYPE and TTL of every key',
  'ZRANGE <P>:camp:forget, HVALS <P>:jx:<bucket> (which campaigns’ live state is scheduled to be forgotten)',
  'INFO memory (used_memory)',
];

/** A key's class for the report: its first segment, or for BullMQ's keys `q:*:<suffix>` (`q:*:<job>` for job hashes). */
function classOf(name: string): string {
  if (!name.startsWith('q:')) return name.split(':')[0]!;
  const rest = name.split(':').slice(2);
  if (/^(job|dlv)_[0-9a-f]{16}(-r\d+)?$/.test(rest[0] ?? ''))
    return rest.length > 1 ? `q:*:<job>:${rest.slice(1).join(':')}` : 'q:*:<job>';
  return `q:*:${rest.join(':')}`;
}

const numbers = (hash: Record<string, string>) =>
  Object.fromEntries(Object.entries(hash).map(([k, v]) => [k, Number(v)]));

/** Reads the counters and classifies every key under `prefix`. Run it on a quiet deployment (after the drain). */
export async function auditRedis(redis: Redis, prefix: string): Promise<RedisAudit> {
  const P = `${prefix}:`;
  const [inflight, stats, forget, info] = await Promise.all([
    redis.hgetall(`${P}inflight`),
    redis.hgetall(`${P}stats`),
    redis.zrange(`${P}camp:forget`, 0, -1),
    redis.info('memory'),
  ]);
  const finalized = new Set(forget);
  const keys: KeyAudit = {
    total: 0,
    withTtl: 0,
    permanent: {},
    scheduled: 0,
    unexpectedCount: 0,
    unexpected: [],
    byClass: {},
  };
  const flag = (key: string, type: string) => {
    keys.unexpectedCount += 1;
    if (keys.unexpected.length < 20) keys.unexpected.push(`${key} (${type})`);
  };

  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${P}*`, 'COUNT', 1000);
    cursor = next;
    if (!batch.length) continue;
    const pipeline = redis.pipeline();
    for (const key of batch) pipeline.pttl(key).type(key);
    const replies = (await pipeline.exec()) ?? [];
    for (let i = 0; i < batch.length; i++) {
      const key = batch[i]!;
      const name = key.slice(P.length);
      const ttl = Number(replies[i * 2]?.[1] ?? -2);
      const type = (replies[i * 2 + 1]?.[1] as string | undefined) ?? 'none';
      if (ttl === -2) continue; // expired between SCAN and PTTL
      keys.total += 1;
      const cls = classOf(name);
      keys.byClass[cls] = (keys.byClass[cls] ?? 0) + 1;
      if (ttl >= 0) {
        keys.withTtl += 1;
        continue;
      }
      const permanent = PERMANENT.find((p) => p.pattern.test(name));
      if (permanent) {
        keys.permanent[permanent.name] = (keys.permanent[permanent.name] ?? 0) + 1;
        continue;
      }
      const campaign = /^camp:(camp_[0-9a-f]{16})(:.*)?$/.exec(name);
      if (campaign && !name.endsWith(':enqueue-lock')) {
        if (finalized.has(campaign[1]!)) keys.scheduled += 1;
        else flag(key, type);
        continue;
      }
      if (/^jx:[0-9a-f]{3}$/.test(name)) {
        // A bucket of waiting campaign jobs' references: each names "<campaign_id>:<index>".
        const owners = new Set((await redis.hvals(key)).map((ref) => ref.split(':')[0]!));
        if ([...owners].every((id) => finalized.has(id))) keys.scheduled += 1;
        else flag(key, type);
        continue;
      }
      flag(key, type);
    }
  } while (cursor !== '0');

  return {
    inflight: numbers(inflight),
    stats: numbers(stats),
    keys,
    usedMemoryBytes: Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0),
  };
}
