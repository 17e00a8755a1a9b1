import {
  type LaneKind,
  type Logger,
  type RedisKeys,
  callScript,
  defineScripts,
  parseLane,
} from '@castforge/core';
import { Job, UnrecoverableError } from 'bullmq';
import { type Redis } from 'ioredis';
import { type LaneQueues } from '@castforge/core';

/** A job this process took from a lane, with its BullMQ lock. */
export interface FetchedJob {
  job: Job;
  token: string;
  lane: string;
  bucket: number;
  tenantId: string;
  kind: LaneKind;
  /** Aborted when this process lost the job's lock, or hands its jobs back because it is shutting down. */
  signal: AbortSignal;
}

/** What became of a job, which the fetcher turns into its BullMQ transition. */
export type Outcome =
  | { kind: 'completed' }
  | { kind: 'dropped' }
  | { kind: 'failed'; message: string }
  | { kind: 'retry'; error: Error }
  | { kind: 'handback' }
  /** Another live worker runs this job's operation and this one does not: back in the lane a little later. */
  | { kind: 'elsewhere'; delayMs: number };

/** Lane checks run beside the fetching at most this many at once. */
const MAX_LANE_CHECKS = 8;

export class LockLostError extends Error {
  override name = 'LockLostError';
}
export class HandbackError extends Error {
  override name = 'HandbackError';
}

interface Held {
  item: FetchedJob;
  controller: AbortController;
  release: () => void;
  /** Its BullMQ transition is on its way: a lock renewal that fails meanwhile lost nothing. */
  settling?: boolean;
}

/** How many lanes one PICK claims; the fetcher serves them one job each, in order. */
const PICK_COUNT = 8;
/** Heads of the buckets' ready indexes are re-read at least this often. */
const HEADS_REFRESH_MS = 1000;

/**
 * Takes jobs from the tenants' lanes for this process, without a BullMQ Worker per lane: the buckets' ready
 * indexes say which lanes hold work and which was served least recently, so tenants take turns; a few
 * lanes are claimed at a time (PICK), one job fetched from each through the lane Queue's backend. Connections,
 * timers and memory are the same for 1 tenant or 10,000: one lock timer for every job held, lane Queues in a
 * bounded cache, and stall checks done when a lane is visited.
 *
 * `process` runs a job and says what became of it; the fetcher makes the BullMQ transition, asking BullMQ
 * for the lane's next job in the same call when this lane is the only one with work (a single tenant's
 * backlog costs no extra round trip per job).
 */
export function createLaneFetcher(deps: {
  redis: Redis;
  subscriber: Redis;
  keys: RedisKeys;
  queues: LaneQueues;
  workerId: string;
  /** Jobs held at once: running plus prepared for the next free GPU slot. */
  capacity: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  process(item: FetchedJob): Promise<Outcome>;
  logger: Logger;
  onStalled?(count: number): void;
}) {
  const { redis, keys, queues } = deps;
  defineScripts(redis);
  const buckets = keys.allBuckets();
  const heads = new Array<number>(buckets.length).fill(0);
  const laneCounts = new Array<number>(buckets.length).fill(0);
  let headsAt = 0;
  let plan: { bucket: number; lane: string }[] = [];
  const held = new Map<string, Held>();
  let chains = 0;
  let tokens = 0;
  let closing = false;
  let loopDone: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  const lastStallCheck = new Map<string, number>();
  const timers: NodeJS.Timeout[] = [];

  const signal = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        wake = undefined;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const refreshHeads = async () => {
    const rows = await Promise.all(
      buckets.map((b) => Promise.all([redis.zrange(b.ready, 0, 0, 'WITHSCORES'), redis.zcard(b.ready)])),
    );
    rows.forEach(([head, lanes], i) => {
      heads[i] = head[1] === undefined ? Infinity : Number(head[1]);
      laneCounts[i] = lanes;
    });
    headsAt = Date.now();
  };

  /** The bucket whose least recently served lane is due and oldest, or undefined when none is due. */
  const dueBucket = (except?: number): number | undefined => {
    const now = Date.now();
    let best: number | undefined;
    for (let i = 0; i < heads.length; i++) {
      if (i === except) continue;
      if (heads[i]! <= now && (best === undefined || heads[i]! < heads[best]!)) best = i;
    }
    return best;
  };

  const pick = async (bucket: number): Promise<string[]> => {
    const reply = (await callScript(
      redis,
      'lanePick',
      [buckets[bucket]!.ready],
      [Date.now(), PICK_COUNT],
    )) as (string | number)[];
    const sep = reply.indexOf('');
    const lanes = reply.slice(0, sep) as string[];
    const head = reply[sep + 1];
    heads[bucket] = head === '' || head === undefined ? Infinity : Number(head);
    laneCounts[bucket] = Number(reply[sep + 2] ?? 0);
    return lanes;
  };

  const maybeCheckStalled = async (bucket: number, lane: string) => {
    const key = `${bucket}|${lane}`;
    const now = Date.now();
    if (now - (lastStallCheck.get(key) ?? 0) < deps.stalledIntervalMs) return;
    lastStallCheck.set(key, now);
    // BullMQ's own stalled-check key makes this a no-op if another process checked the lane lately.
    const stalled = await queues.get(bucket, lane).getBackend().moveStalledJobsToWait();
    if (stalled.length) {
      deps.onStalled?.(stalled.length);
      deps.logger.warn({ lane, jobs: stalled.length }, 'stalled jobs went back to their lane');
    }
  };

  const laneCheck = async (bucket: number, lane: string) => {
    const state = (await callScript(redis, 'laneCheck', buckets[bucket]!.laneCheckKeys(lane), [
      lane,
      Date.now(),
      deps.stalledIntervalMs,
    ])) as string;
    if (state === 'active') await maybeCheckStalled(bucket, lane);
    if (state === 'idle') lastStallCheck.delete(`${bucket}|${lane}`);
  };

  const asFetched = (bucket: number, lane: string, token: string, raw: unknown[]): FetchedJob | null => {
    const [data, id] = raw as [Record<string, unknown> | null, string];
    const parsed = parseLane(lane);
    if (!data || !parsed) return null;
    const queue = queues.get(bucket, lane);
    const job = Job.fromJSON(queue, data as never, id);
    job.token = token;
    return {
      job,
      token,
      lane,
      bucket,
      tenantId: parsed.tenantId,
      kind: parsed.kind,
      signal: new AbortController().signal,
    };
  };

  const fetchFrom = async (bucket: number, lane: string): Promise<FetchedJob | null> => {
    await maybeCheckStalled(bucket, lane);
    const token = `${deps.workerId}:${++tokens}`;
    const raw = await queues.get(bucket, lane).getBackend().moveToActive(token);
    return asFetched(bucket, lane, token, raw);
  };

  let checking = 0;
  /** Whether the lane is idle (and leaves the ready set) is not needed to go on: checked beside the fetching. */
  const checkAside = async (target: { bucket: number; lane: string }) => {
    checking += 1;
    const checked = laneCheck(target.bucket, target.lane)
      .catch((err: unknown) =>
        deps.logger.warn({ lane: target.lane, err: (err as Error).message }, 'lane check failed'),
      )
      .finally(() => (checking -= 1));
    if (checking >= MAX_LANE_CHECKS) await checked;
  };

  /**
   * Up to `room` jobs from the next lanes in turn, fetched at once: with many tenants of one job each, every
   * lane costs a round trip, and one after the other they would leave the GPUs waiting.
   */
  const next = async (room: number): Promise<FetchedJob[]> => {
    for (let tries = 0; tries < 16 && !closing; tries++) {
      if (!plan.length) {
        if (Date.now() - headsAt > HEADS_REFRESH_MS) await refreshHeads();
        const bucket = dueBucket();
        if (bucket === undefined) return [];
        const lanes = await pick(bucket);
        plan = lanes.map((lane) => ({ bucket, lane }));
        if (!plan.length) continue;
      }
      const targets = plan.splice(0, Math.max(1, room));
      const fetched = await Promise.allSettled(targets.map((t) => fetchFrom(t.bucket, t.lane)));
      const items: FetchedJob[] = [];
      let failure: Error | undefined;
      for (const [i, outcome] of fetched.entries()) {
        if (outcome.status === 'rejected') failure ??= outcome.reason as Error;
        else if (outcome.value) items.push(outcome.value);
        else await checkAside(targets[i]!);
      }
      // Jobs fetched beside a failed fetch are run, not left to stall; the failure is reported after.
      if (items.length) return items;
      if (failure) throw failure;
    }
    return [];
  };

  /** Only this lane is known to have work: ask BullMQ for its next job in the same call that settles one. */
  const wantsNext = (item: FetchedJob) =>
    !closing &&
    plan.length === 0 &&
    // What we know of the other lanes is recent (they are re-read at least every second).
    Date.now() - headsAt < HEADS_REFRESH_MS &&
    laneCounts[item.bucket]! <= 1 &&
    dueBucket(item.bucket) === undefined;

  const bringForward = (item: FetchedJob, at: number) =>
    redis.zadd(buckets[item.bucket]!.ready, 'LT', at, item.lane).catch(() => 0);

  /** The BullMQ side of an outcome; may return the lane's next job. Retried while Redis is away. */
  const settle = async (item: FetchedJob, outcome: Outcome): Promise<FetchedJob | null> => {
    for (let attempt = 0; ; attempt++) {
      try {
        const fetchNext = wantsNext(item);
        let raw: unknown;
        switch (outcome.kind) {
          case 'completed':
          case 'dropped':
            raw = await item.job.moveToCompleted(null, item.token, fetchNext);
            break;
          case 'failed':
            raw = await item.job.moveToFailed(new UnrecoverableError(outcome.message), item.token, fetchNext);
            break;
          case 'retry':
            await item.job.moveToFailed(outcome.error, item.token, false);
            await bringForward(item, Date.now() + (item.job.delay || 0));
            return null;
          case 'handback':
            await item.job.moveToWait(item.token);
            await bringForward(item, Date.now());
            return null;
          case 'elsewhere':
            // Delayed (no attempt counted) rather than put back at the head, where this worker would take it
            // again at once; the lane's other jobs go on meanwhile.
            await item.job.moveToDelayed(Date.now() + outcome.delayMs, item.token);
            await bringForward(item, Date.now() + outcome.delayMs);
            return null;
        }
        if (Array.isArray(raw) && raw[0]) return asFetched(item.bucket, item.lane, item.token, raw);
        return null;
      } catch (err) {
        const message = (err as Error).message;
        // Our lock is gone (a stall check moved the job back): whoever takes it next finds how it ended.
        if (
          /Missing lock|lock mismatch|Missing key|not in the active state/i.test(message) ||
          attempt >= 30
        ) {
          deps.logger.warn({ job_id: item.job.id, lane: item.lane, err: message }, 'could not settle job');
          return null;
        }
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
      }
    }
  };

  const track = (item: FetchedJob): Held => {
    const controller = new AbortController();
    const release = queues.hold(item.bucket, item.lane);
    const entry: Held = { item: { ...item, signal: controller.signal }, controller, release };
    held.set(item.job.id!, entry);
    return entry;
  };

  /** Runs a job, settles it, and goes on with the lane's next job while BullMQ hands one over. */
  const runChain = async (first: FetchedJob) => {
    chains += 1;
    let current: FetchedJob | null = first;
    try {
      while (current) {
        const entry = track(current);
        let outcome: Outcome;
        try {
          outcome = await deps.process(entry.item);
        } catch (err) {
          deps.logger.error({ job_id: current.job.id, err: (err as Error).message }, 'job processing threw');
          outcome = { kind: 'retry', error: err as Error };
        }
        const lost = entry.controller.signal.reason instanceof LockLostError;
        entry.settling = true;
        const nextJob: FetchedJob | null = lost ? null : await settle(entry.item, outcome);
        held.delete(current.job.id!);
        entry.release();
        current = nextJob;
      }
    } finally {
      chains -= 1;
      signal();
    }
  };

  const extendLocks = async () => {
    const byLane = new Map<string, Held[]>();
    for (const entry of held.values()) {
      const key = `${entry.item.bucket}|${entry.item.lane}`;
      byLane.set(key, [...(byLane.get(key) ?? []), entry]);
    }
    for (const entries of byLane.values()) {
      const { bucket, lane } = entries[0]!.item;
      try {
        const failed = await queues
          .get(bucket, lane)
          .getBackend()
          .extendLocks(
            entries.map((e) => e.item.job.id!),
            entries.map((e) => e.item.token),
            deps.lockDurationMs,
          );
        for (const id of failed) {
          const entry = held.get(id);
          if (entry && !entry.settling && !entry.controller.signal.aborted) {
            deps.logger.warn({ job_id: id, lane }, 'lost the lock of a job; letting it go');
            entry.controller.abort(new LockLostError('this worker lost the job (its lock expired)'));
          }
        }
      } catch (err) {
        deps.logger.warn({ lane, err: (err as Error).message }, 'could not extend job locks');
      }
    }
    // Stall-check times of lanes not visited for a while are forgotten (the map stays small).
    const horizon = Date.now() - 4 * deps.stalledIntervalMs;
    for (const [key, at] of lastStallCheck) if (at < horizon) lastStallCheck.delete(key);
  };

  const onReady = (channel: string, message: string) => {
    if (channel !== keys.readyChannel) return;
    const bucket = Number(message);
    if (Number.isInteger(bucket) && bucket >= 0 && bucket < heads.length) {
      heads[bucket] = 0;
      // Another lane of that bucket has work now: the lane being served may no longer hand over its next job.
      laneCounts[bucket] = Number.MAX_SAFE_INTEGER;
    }
    signal();
  };

  const loop = async () => {
    while (!closing) {
      try {
        if (chains >= deps.capacity) {
          await sleep(1000);
          continue;
        }
        const items = await next(deps.capacity - chains);
        for (const item of items) void runChain(item);
        if (items.length) continue;
        const due = Math.min(...heads) - Date.now();
        await sleep(Math.max(20, Math.min(HEADS_REFRESH_MS, Number.isFinite(due) ? due : HEADS_REFRESH_MS)));
        if (Date.now() - headsAt > HEADS_REFRESH_MS / 2) await refreshHeads();
      } catch (err) {
        // Redis away: try again shortly; the jobs held keep their locks through the timer.
        deps.logger.warn({ err: (err as Error).message }, 'fetching jobs failed; retrying');
        await sleep(500);
      }
    }
  };

  return {
    async start() {
      deps.subscriber.on('message', onReady);
      await deps.subscriber.subscribe(keys.readyChannel);
      const timer = setInterval(() => void extendLocks(), Math.max(500, deps.lockDurationMs / 2));
      timer.unref();
      timers.push(timer);
      loopDone = loop();
    },
    /** Jobs held now (running or prepared). */
    held: () => held.size,
    /** Ids of the jobs held now (for tests and the shutdown log). */
    heldIds: () => [...held.keys()],
    /**
     * Stops fetching; jobs not yet running go back at once (the processor sees the abort), running ones may
     * finish within `drainMs`, then they are handed back too. Resolves when every job has been settled.
     */
    async close(drainMs: number): Promise<void> {
      closing = true;
      signal();
      deps.subscriber.off('message', onReady);
      await deps.subscriber.unsubscribe(keys.readyChannel).catch(() => undefined);
      await loopDone;
      const deadline = Date.now() + drainMs;
      while (chains > 0 && Date.now() < deadline) await sleep(Math.min(100, deadline - Date.now()));
      for (const entry of held.values()) {
        if (!entry.controller.signal.aborted) {
          entry.controller.abort(
            new HandbackError('the worker is shutting down; the job goes back to its lane'),
          );
        }
      }
      while (chains > 0) await sleep(50);
      timers.forEach(clearInterval);
    },
  };
}
export type LaneFetcher = ReturnType<typeof createLaneFetcher>;
