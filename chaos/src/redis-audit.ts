import { type Redis } from 'ioredis';

/**
 * EVERY piece of knowledge the chaos run has about castforge's Redis key layout is in this file, and
 * nowhere else: the invariants that the public API cannot show (in-flight counters, which keys may live
 * without a TTL) read Redis through here. When the key layout changes, this is the one file to update.
 *
 * Layout read here (packages/core/src/jobs/keys.ts, prefix P = REDIS_PREFIX): every tenant's keys live in its
 * bucket, under `P:{bN}:` (one Redis Cluster hash slot per bucket); the webhook deliveries under `P:{wh}:`.
 *   counters   P:{bN}:inflight (hash tenant → jobs not terminal; a tenant's field goes at zero),
 *              P:{bN}:stats (hash queued/pending; processing is P:{bN}:running less pending) — summed over the buckets
 *   permanent  the per-bucket and deployment singletons of PERMANENT below: bounded by the number of
 *              buckets, never by tenants, lanes or jobs (an idle lane's keys are removed)
 *   scheduled  a campaign's live state (P:{bN}:camp:<id> and its :st:*, :profiles, :scenes), kept without a
 *              TTL until the forget sweep: allowed only once the campaign is done (its score in
 *              P:{bN}:campaigns is the time it will be forgotten)
 *   anything else must carry a TTL.
 */

/** Keys that may live forever, by name relative to the prefix. Each is a pattern and a reason. */
export const PERMANENT: readonly { name: string; pattern: RegExp; why: string }[] = [
  { name: '{b}:stats', pattern: /^\{b\d+\}:stats$/, why: 'job counters by state per bucket (for /metrics)' },
  { name: '{b}:durations', pattern: /^\{b\d+\}:durations$/, why: 'recent inference timings (capped list)' },
  { name: '{b}:outbox', pattern: /^\{b\d+\}:outbox$/, why: 'the outbox stream and its consumer group' },
  { name: '{b}:results', pattern: /^\{b\d+\}:results$/, why: 'stored results by expiry, for the sweeper' },
  { name: '{b}:campaigns', pattern: /^\{b\d+\}:campaigns$/, why: 'live campaigns (entries leave at forget)' },
  { name: '{b}:ready', pattern: /^\{b\d+\}:ready$/, why: 'lanes holding work (a lane leaves once empty)' },
  { name: 'campseq', pattern: /^campseq$/, why: 'campaign numbers (a counter)' },
  { name: 'workers', pattern: /^workers$/, why: 'live workers (entries refreshed by heartbeat)' },
  {
    name: '{wh}:webhooks:meta|id|events|stalled',
    pattern: /^\{wh\}:webhooks:(meta|id|events|stalled|marker|pc)$/,
    why: 'BullMQ’s own bookkeeping of the one webhook queue',
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
  'HGETALL <P>:{bN}:inflight per bucket (per-tenant jobs in flight), summed',
  'HGETALL <P>:{bN}:stats per bucket (queued / processing / pending), summed',
  'SCAN <P>:* on every master, with TYPE and TTL of every key',
  'ZRANGE <P>:{bN}:campaigns WITHSCORES (which campaigns are done and scheduled to be forgotten)',
  'INFO memory (used_memory)',
  'XLEN <P>:{bN}:outbox per bucket while draining (endings not yet relayed), summed',
];

/** A key's class for the report: what it is, with ids and bucket numbers left out. */
function classOf(name: string): string {
  return name
    .replace(/^\{b\d+\}/, '{b}')
    .replace(/(job|dlv|camp)_[0-9a-f]{16}(-r\d+)?/g, '<$1>')
    .replace(/gen\.[a-z0-9_-]+(\.hi|\.camp)?/g, '<lane>')
    .replace(/:usage:[^:]+:\d{4}-\d{2}$/, ':usage:<tenant>:<month>')
    .replace(/(^|:)idem:[^:]+:[0-9a-f]+$/, '$1idem:<tenant>:<key>');
}

const numbers = (hash: Record<string, string>) =>
  Object.fromEntries(Object.entries(hash).map(([k, v]) => [k, Number(v)]));

const sum = (hashes: Record<string, string>[]) => {
  const total: Record<string, number> = {};
  for (const hash of hashes) {
    for (const [k, v] of Object.entries(numbers(hash))) total[k] = (total[k] ?? 0) + v;
  }
  return total;
};

/** Each bucket's hash-tagged key prefix, `<P>:{bN}`. */
const bucketTags = (prefix: string, buckets: number) =>
  Array.from({ length: buckets }, (_, b) => `${prefix}:{b${b}}`);

/**
 * Job and campaign endings not yet relayed: the entries left in the buckets' outbox streams (the relay deletes
 * what it carried out). An entry a SIGKILLed worker had read waits there, pending, until another worker's
 * reclaim takes it over (15 s idle), and /metrics' queue gauge does not count it.
 */
export async function outboxPending(redis: Redis, prefix: string, buckets = 16): Promise<number> {
  const lengths = await Promise.all(bucketTags(prefix, buckets).map((t) => redis.xlen(`${t}:outbox`)));
  return lengths.reduce((n, len) => n + len, 0);
}

/** Reads the counters and classifies every key under `prefix`. Run it on a quiet deployment (after the drain). */
export async function auditRedis(redis: Redis, prefix: string, buckets = 16): Promise<RedisAudit> {
  const P = `${prefix}:`;
  const tags = bucketTags(prefix, buckets);
  const [inflight, stats, campaigns, info] = await Promise.all([
    Promise.all(tags.map((t) => redis.hgetall(`${t}:inflight`))),
    Promise.all(tags.map((t) => redis.hgetall(`${t}:stats`))),
    Promise.all(tags.map((t) => redis.zrange(`${t}:campaigns`, 0, -1, 'WITHSCORES'))),
    redis.info('memory'),
  ]);
  // A campaign is done once its score (the time it will be forgotten) is set.
  const finalized = new Set<string>();
  for (const list of campaigns)
    for (let i = 0; i + 1 < list.length; i += 2) if (Number(list[i + 1]) > 0) finalized.add(list[i]!);
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

  // A cluster's keys are on its masters; one server is its own only "master".
  const nodes = (redis as unknown as { isCluster?: boolean }).isCluster
    ? (redis as unknown as { nodes(role: string): Redis[] }).nodes('master')
    : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', `${P}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of batch) {
        const [ttl, type] = await Promise.all([node.pttl(key), node.type(key)]);
        if (ttl === -2) continue; // expired between SCAN and PTTL
        const name = key.slice(P.length);
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
        const campaign = /^\{b\d+\}:camp:(camp_[0-9a-f]{16})(:.*)?$/.exec(name);
        if (campaign) {
          if (finalized.has(campaign[1]!)) keys.scheduled += 1;
          else flag(key, type);
          continue;
        }
        flag(key, type);
      }
    } while (cursor !== '0');
  }

  return {
    inflight: sum(inflight),
    stats: sum(stats),
    keys,
    usedMemoryBytes: Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0),
  };
}
