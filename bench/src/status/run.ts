import { type Redis, createRedis, redisKeys } from '@castforge/core';
import { createLaneQueues } from '@castforge/core';
import { startApi } from '../support/api';
import { count, step } from '../support/report';
import { type BenchServices, deleteUnder } from '../support/services';
import { type Summary, timed } from '../support/stats';
import { type LaneUnderTest, openLane } from './lane';
import { measureTargets } from './measure';
import { type Method, verifyWaiting } from './probes';
import { costPerPoll } from './throughput';

export interface JobResult {
  /** `main` is filled to each depth in turn; `control` stays at the first depth and is polled alongside. */
  lane: 'main' | 'control';
  laneDepth: number;
  position: 'oldest' | 'newest';
  jobId: string;
  queuePosition: number;
  latencyMs: Record<Method, Summary>;
  /** Microseconds per poll with many polls pipelined: throughput cost without the round-trip wait. */
  pipelinedUsPerPoll: { read: number; getState: number };
}

export interface DepthResult {
  depth: number;
  fill: { jobsAdded: number; seconds: number; jobsPerSecond: number };
  /** Growth of Redis' used_memory per waiting job (record + BullMQ job + lane entry); approximate on a shared Redis. */
  redisBytesPerJob: number;
  jobs: JobResult[];
}

const usedMemory = async (redis: Redis) =>
  Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? Number.NaN);

/** Fills a lane to `depth`, with a progress line about every tenth of the way. */
async function fillLane(
  lane: LaneUnderTest,
  depth: number,
  batchSize: number,
  signal: AbortSignal,
): Promise<number> {
  const before = lane.fill.ids.length;
  const every = Math.max(batchSize, Math.ceil((depth - before) / 10));
  let next = before + every;
  const { seconds } = await timed(() =>
    lane.fill.fillTo(
      depth,
      (queued) => {
        if (queued < next && queued < depth) return;
        step(`${lane.lane}: queued ${count(queued)} / ${count(depth)}`);
        next = queued + every;
      },
      signal,
    ),
  );
  return seconds;
}

/** The oldest and newest waiting job of a lane, checked to be waiting where we think they are. */
async function targetsOf(lane: LaneUnderTest, role: JobResult['lane']) {
  const depth = lane.fill.ids.length;
  const waiting = await lane.waiting();
  if (waiting !== depth) throw new Error(`${lane.lane} holds ${waiting} waiting jobs, expected ${depth}`);
  const targets = [
    { position: 'oldest' as const, jobId: lane.fill.ids[0]!, queuePosition: 0 },
    { position: 'newest' as const, jobId: lane.fill.ids[depth - 1]!, queuePosition: depth - 1 },
  ];
  for (const t of targets) await verifyWaiting(lane.probes, t.jobId, t.queuePosition);
  return targets.map((t) => ({ ...t, lane: role, laneDepth: depth, probes: lane.probes, from: lane }));
}

async function measureLanes(
  main: LaneUnderTest,
  control: LaneUnderTest,
  polls: number,
): Promise<JobResult[]> {
  const targets = [...(await targetsOf(main, 'main')), ...(await targetsOf(control, 'control'))];
  const latencies = await measureTargets(targets, polls);
  const costs = await costPerPoll(targets.map((t) => ({ jobId: t.jobId, pipelined: t.from.pipelined })));
  return targets.map(({ probes: _probes, from: _from, ...target }, i) => ({
    ...target,
    latencyMs: latencies[i]!,
    pipelinedUsPerPoll: costs[i]!,
  }));
}

/**
 * Everything one run needs: the real API, the main lane (filled to each depth in turn), a control lane of
 * another tenant held at the first depth and polled in the same rounds, and how to remove it all.
 */
export async function setUpStatusBench(
  services: BenchServices,
  prefix: string,
  options: { polls: number; batchSize: number },
) {
  const keys = redisKeys(prefix);
  // A million queued jobs is the point: no per-tenant cap, and no rate limit on thousands of polls a second.
  const api = await startApi(services, prefix, { RATE_LIMIT_RPS: '0', TENANT_MAX_JOBS_IN_FLIGHT: '0' });
  const pipelined = createRedis(services.redisUrl, 'worker', services.logger, { enableAutoPipelining: true });
  const baseline = createRedis(services.redisUrl, 'command', services.logger);
  const fillQueues = createLaneQueues({ redis: services.admin, keys });
  const clients = { api, keys, pipelined, baseline, fillQueues, batchSize: options.batchSize };
  const main = await openLane(clients, 'bench');
  const control = await openLane(clients, 'benchctl');
  // Clean-up (also on Ctrl-C) first stops the fill and waits for its batch in flight, then deletes;
  // polls meanwhile only read, and fail once their job is gone.
  const stop = new AbortController();
  let filling: Promise<unknown> = Promise.resolve();
  const fill = (lane: LaneUnderTest, depth: number) => {
    const seconds = fillLane(lane, depth, options.batchSize, stop.signal);
    filling = seconds;
    return seconds;
  };

  return {
    lanes: { main: main.lane, control: control.lane },
    async run(depths: number[]): Promise<DepthResult[]> {
      const results: DepthResult[] = [];
      const before = await usedMemory(services.admin);
      for (const depth of depths) {
        const added = depth - main.fill.ids.length;
        const seconds = await fill(main, depth);
        if (control.fill.ids.length === 0) await fill(control, depths[0]!);
        const jobsInRedis = main.fill.ids.length + control.fill.ids.length;
        const bytes = ((await usedMemory(services.admin)) - before) / jobsInRedis;
        step(`${count(depth)} waiting: polling the oldest and newest job of both lanes`);
        results.push({
          depth,
          fill: { jobsAdded: added, seconds, jobsPerSecond: added / seconds },
          redisBytesPerJob: Math.round(bytes),
          jobs: await measureLanes(main, control, options.polls),
        });
      }
      return results;
    },
    /** Obliterates the lanes, UNLINKs the records in batches, then sweeps whatever else is under the prefix. */
    async cleanUp() {
      stop.abort();
      await filling.catch(() => undefined);
      const obliterate = await timed(async () => {
        await main.obliterate();
        await control.obliterate();
      });
      const records = await timed(async () => {
        for (const lane of [main, control]) {
          const ids = lane.fill.ids;
          const b = keys.forTenant(lane.tenantId);
          for (let i = 0; i < ids.length; i += 1000) {
            await services.admin.unlink(...ids.slice(i, i + 1000).map((id) => b.job(id)));
          }
        }
      });
      const rest = await deleteUnder(services.admin, prefix);
      await main.close();
      await control.close();
      await fillQueues.close();
      await api.close();
      pipelined.disconnect();
      baseline.disconnect();
      return { obliterateSeconds: obliterate.seconds, unlinkSeconds: records.seconds, otherKeys: rest };
    },
  };
}
