import { setTimeout as sleep } from 'node:timers/promises';
import { type Redis } from '@castforge/core';

export interface MemoryReading {
  /** Both conditions of settledMemory were met (false: the 15 s limit ran out first). */
  settled: boolean;
  /** INFO memory used_memory: what the figure is a delta of. */
  usedMemory: number;
  /** Client buffers (part of used_memory): a fill's query buffers must have shrunk back before "after". */
  clients: number;
}

const field = (info: string, name: string) =>
  Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? Number.NaN);

async function read(redis: Redis) {
  const info = await redis.info('memory');
  return {
    usedMemory: field(info, 'used_memory'),
    clients: field(info, 'mem_clients_normal'),
    lazyfreePending: field(info, 'lazyfree_pending_objects'),
  };
}

/** Readings this far apart... */
const SAMPLE_MS = 250;
/** ...that moved less than this (bytes), three times in a row, count as settled... */
const STABLE_BYTES = 16 * 1024;
/** ...and at least this long after the last write, so Redis' clients cron has shrunk the query buffers. */
const QUIET_MS = 2500;
const GIVE_UP_MS = 15_000;

/**
 * used_memory once Redis has settled: UNLINKed keys freed by the lazy-free thread, the writer's query
 * buffer shrunk (clientsCron, after ~2 s idle), and three readings in a row within 16 KB. On a shared Redis
 * someone else's writes can keep it moving; after 15 s the last reading counts, and `settled` says so.
 */
export async function settledMemory(redis: Redis, signal?: AbortSignal): Promise<MemoryReading> {
  const started = performance.now();
  await sleep(QUIET_MS, undefined, { signal });
  let previous = await read(redis);
  let stable = 0;
  while (performance.now() - started < GIVE_UP_MS) {
    await sleep(SAMPLE_MS, undefined, { signal });
    const now = await read(redis);
    const quiet = now.lazyfreePending === 0 && Math.abs(now.usedMemory - previous.usedMemory) < STABLE_BYTES;
    stable = quiet ? stable + 1 : 0;
    previous = now;
    if (stable >= 3) return { usedMemory: now.usedMemory, clients: now.clients, settled: true };
  }
  return { usedMemory: previous.usedMemory, clients: previous.clients, settled: false };
}

export interface KeyGroup {
  group: string;
  keys: number;
  /** Sum of MEMORY USAGE (SAMPLES 0: every element counted) over the group's keys. */
  bytes: number;
  /** OBJECT ENCODING of the group's first key, e.g. listpack or hashtable. */
  encoding: string;
  /** One key of the group, with what it costs alone, for the report's diagnosis. */
  sample: { key: string; bytes: number };
}

/**
 * Where a side's memory went, key by key: every key under `prefix` is SCANned, classified by `groupOf`,
 * and sized with MEMORY USAGE. Unlike a used_memory delta this cannot be moved by other users of a shared
 * Redis; it leaves out what no key owns (the keyspace's own hash table, allocator rounding).
 */
export async function keyBreakdown(
  redis: Redis,
  prefix: string,
  groupOf: (key: string) => string,
): Promise<KeyGroup[]> {
  const groups = new Map<string, KeyGroup>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (!keys.length) continue;
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', 0);
    const sizes = (await pipeline.exec()) ?? [];
    for (const [i, key] of keys.entries()) {
      const bytes = Number(sizes[i]?.[1] ?? 0);
      const name = groupOf(key);
      let group = groups.get(name);
      if (!group) {
        const encoding = String(await redis.object('ENCODING', key));
        group = { group: name, keys: 0, bytes: 0, encoding, sample: { key, bytes } };
        groups.set(name, group);
      }
      group.keys += 1;
      group.bytes += bytes;
    }
  } while (cursor !== '0');
  return [...groups.values()].sort((a, b) => b.bytes - a.bytes);
}

/** Names a key under `<prefix>:` by what it holds: BullMQ's (under `<prefix>:q`) or the project's. */
export function groupOfKey(prefix: string) {
  const bull = `${prefix}:q:`;
  return (key: string): string => {
    if (key.startsWith(bull)) {
      const rest = key.slice(bull.length);
      const suffix = rest.slice(rest.indexOf(':') + 1);
      if (/^job_[0-9a-f]{16}$/.test(suffix)) return 'BullMQ job hashes';
      return `BullMQ queue: ${suffix}`;
    }
    const rest = key.slice(prefix.length + 1);
    if (rest.startsWith('jx:')) return 'ours: jx buckets (job → campaign:index)';
    if (/^camp:[^:]+:ids$/.test(rest)) return 'ours: campaign id list';
    if (rest.startsWith('camp:')) return 'ours: campaign hash, roster, scenes';
    return `ours: ${rest.split(':')[0]}`;
  };
}
