import { count, step } from '../support/report';
import { type BenchServices, deleteUnder, newPrefix } from '../support/services';
import { type KeyGroup, type MemoryReading, groupOfKey, keyBreakdown, settledMemory } from './memory';
import { createRoster } from './ours';
import { type PollRow, pollCampaigns } from './poll-campaigns';
import { type CampaignShape, campaignShape, describeShape, jobsOf } from './shape';
import {
  type OpenSide,
  type Side,
  SIDES,
  SIDE_LABELS,
  type StoredJob,
  expectAllWaiting,
  openBare,
  openOurs,
  storedJob,
} from './sides';

export interface SideRound {
  side: Side;
  round: number;
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
  memory: {
    before: MemoryReading;
    after: MemoryReading;
    /** (after − before) used_memory ÷ jobs: the figure. */
    bytesPerJob: number;
    /** Both readings settled (see settledMemory); false means someone else kept Redis moving. */
    settled: boolean;
  };
  /** Σ MEMORY USAGE of the side's keys ÷ jobs: the drift-free cross-check. */
  keyBytesPerJob: number;
  keys: KeyGroup[];
  stored: StoredJob;
}

export interface CampaignBenchOptions {
  jobs: number;
  contextJobs: number;
  polls: number;
  rounds: number;
}

/** Enough to load BullMQ's and our scripts and warm the JIT, small enough to take a second. */
const WARMUP_JOBS = 5000;

/**
 * The whole run: a warm-up of every side (not recorded), then `rounds` rounds in which each side in turn
 * (rotating the order) enqueues its jobs under a prefix of its own, with Redis settled before and after,
 * is checked, sized key by key, and deleted again before the next side starts. In the last round, while
 * our campaign is still queued, it is polled beside smaller ones (see pollCampaigns).
 */
export function createCampaignBench(services: BenchServices, options: CampaignBenchOptions) {
  const shape = campaignShape(options.jobs);
  const contextShape = campaignShape(options.contextJobs);
  const warmShape = campaignShape(Math.min(options.jobs, WARMUP_JOBS));
  const stop = new AbortController();
  const open = new Set<OpenSide>();
  let current: Promise<unknown> = Promise.resolve();
  let profileIds: string[] | undefined;
  /** The API's JOB_ATTEMPTS and JOB_BACKOFF_MS, from the first API started (ours comes first in the warm-up). */
  let jobOptions: { attempts: number; backoffMs: number } | undefined;

  /** Every step goes through here, so Ctrl-C can wait for the one in flight and nothing starts after it. */
  const guard = async <T>(work: () => Promise<T>): Promise<T> => {
    stop.signal.throwIfAborted();
    const running = work();
    current = running;
    const value = await running;
    stop.signal.throwIfAborted();
    return value;
  };

  const roster = async (http: Parameters<typeof createRoster>[0]) =>
    (profileIds ??= await createRoster(http, Math.max(shape.profiles, contextShape.profiles)));

  /** Every prefix the run used, swept once more at the end whatever happened. */
  const prefixes: string[] = [];

  const openSide = async (side: Side, sideShape: CampaignShape): Promise<OpenSide> => {
    const prefix = newPrefix('campaign');
    prefixes.push(prefix);
    let opened: OpenSide;
    if (side === 'ours') {
      opened = await openOurs(services, prefix, sideShape, roster);
      const { config } = opened.api!.api.deps;
      jobOptions ??= { attempts: config.JOB_ATTEMPTS, backoffMs: config.JOB_BACKOFF_MS };
    } else {
      if (!jobOptions) throw new Error('the bare baseline needs the API’s job options: open ours first');
      opened = openBare(services, prefix, side, sideShape, jobOptions);
    }
    open.add(opened);
    return opened;
  };

  const free = async (opened: OpenSide) => {
    await opened.free();
    open.delete(opened);
  };

  /** One side, measured and removed again. `polls` runs while its jobs are queued (ours, last round). */
  async function measure(
    side: Side,
    round: number,
    withPolls: boolean,
  ): Promise<{ result: SideRound; polls: PollRow[] }> {
    const opened = await guard(() => openSide(side, shape));
    try {
      const before = await guard(() => settledMemory(services.admin, stop.signal));
      step(`round ${round}: ${SIDE_LABELS[side]}: enqueuing ${count(options.jobs)} jobs`);
      const enqueued = await guard(() => opened.enqueue(stop.signal));
      const after = await guard(() => settledMemory(services.admin, stop.signal));
      await guard(() => expectAllWaiting(services.admin, opened.prefix, options.jobs));
      const keys = await guard(() => keyBreakdown(services.admin, opened.prefix, groupOfKey(opened.prefix)));
      const stored = await guard(() => storedJob(services.admin, opened.prefix, enqueued.firstJobId));
      const polls =
        withPolls && enqueued.campaignId
          ? await guard(() => {
              step(`round ${round}: polling the campaigns (${options.polls} polls each)`);
              return pollCampaigns(
                services,
                { prefix: opened.prefix, ...opened.api! },
                { campaignId: enqueued.campaignId!, shape },
                { contextShape, polls: options.polls },
              );
            })
          : [];
      const keyBytes = keys.reduce((sum, g) => sum + g.bytes, 0);
      return {
        result: {
          side,
          round,
          jobs: options.jobs,
          seconds: enqueued.seconds,
          jobsPerSecond: options.jobs / enqueued.seconds,
          memory: {
            before,
            after,
            bytesPerJob: (after.usedMemory - before.usedMemory) / options.jobs,
            settled: before.settled && after.settled,
          },
          keyBytesPerJob: keyBytes / options.jobs,
          keys,
          stored,
        },
        polls,
      };
    } finally {
      await guard(() => free(opened));
    }
  }

  /** Every side once at the warm-up size, unmeasured: scripts loaded, JIT warm, the roster created. */
  async function warmUp(): Promise<void> {
    for (const side of SIDES) {
      const opened = await guard(() => openSide(side, warmShape));
      try {
        await guard(() => opened.enqueue(stop.signal));
      } finally {
        await guard(() => free(opened));
      }
    }
  }

  /** The identical baseline must store what ours stores: same job name, same options, same data size. */
  function checkSameJobs(rounds: SideRound[]): void {
    const ours = rounds.find((r) => r.side === 'ours')?.stored;
    const bare = rounds.find((r) => r.side === 'identical')?.stored;
    if (!ours || !bare) return;
    if (ours.name !== bare.name || ours.opts !== bare.opts || ours.dataBytes !== bare.dataBytes) {
      throw new Error(
        `the identical baseline differs from ours: ours ${JSON.stringify(ours)}, bare ${JSON.stringify(bare)}`,
      );
    }
  }

  return {
    shape,
    contextShape,
    async run(): Promise<{ rounds: SideRound[]; polls: PollRow[] }> {
      step(`warm-up: every side with ${count(jobsOf(warmShape))} jobs (${describeShape(warmShape)})`);
      await warmUp();
      const rounds: SideRound[] = [];
      let polls: PollRow[] = [];
      for (let round = 1; round <= options.rounds; round++) {
        const order = SIDES.map((_, i) => SIDES[(i + round - 1) % SIDES.length]!);
        for (const side of order) {
          const measured = await measure(side, round, side === 'ours' && round === options.rounds);
          rounds.push(measured.result);
          if (measured.polls.length) polls = measured.polls;
        }
        checkSameJobs(rounds.filter((r) => r.round === round));
      }
      return { rounds, polls };
    },
    /**
     * Stops at the next step boundary, waits for the step in flight, frees whatever is still open, then
     * sweeps every prefix the run used; `leftOver` counts keys that sweep found (0 when all went well).
     */
    async cleanUp(): Promise<{ leftOver: number }> {
      stop.abort();
      await current.catch(() => undefined);
      for (const opened of [...open]) await free(opened);
      let leftOver = 0;
      for (const prefix of prefixes) leftOver += await deleteUnder(services.admin, prefix);
      return { leftOver };
    },
  };
}
