/**
 * bench:worker (issue #9): the real worker pool with a zero-time backend against a bare BullMQ Worker doing
 * the minimum of the same job, in interleaved rounds: jobs per second, Redis commands and Redis CPU per job;
 * and the pool with the simulated renderer on, to show what encoding costs.
 * Usage: npm run bench:worker [-- --jobs=5000 --endpoints=8 --rounds=3 --monitor-jobs=1000]
 */
import os from 'node:os';
import { envFields } from '@castforge/core';
import { z } from 'zod';
import { loadOptions } from './support/options';
import { RedisChoice, openRedis } from './support/private-redis';
import { ResultRoot } from './support/result-root';
import { count, exitOnFailure, machine, print, step, writeResults } from './support/report';
import { cleanUpOnInterrupt, openServices } from './support/services';
import { fixedImage } from './worker/image';
import { SIDES, type SideRun, type WorkerBenchSettings, createWorkerBench } from './worker/run';
import {
  LABELS,
  type Monitored,
  commandTable,
  costTable,
  monitorLines,
  summarize,
  throughputTable,
} from './worker/tables';

const WorkerOptions = z.object({
  BENCH_JOBS: z.coerce.number().int().min(100).default(5000),
  BENCH_ENDPOINTS: z.coerce.number().int().min(1).max(64).default(8),
  BENCH_SIZE: z.coerce.number().int().min(64).max(2048).multipleOf(8).default(64),
  BENCH_ROUNDS: z.coerce.number().int().min(1).max(20).default(3),
  /** Jobs of the unrecorded warm-up drain per side before the first round (0: none). */
  BENCH_WARMUP_JOBS: z.coerce.number().int().min(0).default(1000),
  /** Jobs of the MONITOR pass per side (0: skip it). */
  BENCH_MONITOR_JOBS: z.coerce.number().int().min(0).default(1000),
  /** Where result folders go: /dev/shm when present (see support/result-root.ts). */
  BENCH_RESULT_ROOT: ResultRoot,
  BENCH_REDIS: RedisChoice,
  REDIS_URL: envFields.REDIS_URL,
});

const rotate = <T>(items: T[], by: number) => items.map((_, i) => items[(i + by) % items.length]!);

async function main() {
  const options = loadOptions(WorkerOptions);
  const settings: WorkerBenchSettings = {
    jobs: options.BENCH_JOBS,
    endpoints: options.BENCH_ENDPOINTS,
    size: options.BENCH_SIZE,
    rounds: options.BENCH_ROUNDS,
    warmupJobs: options.BENCH_WARMUP_JOBS,
    resultRoot: options.BENCH_RESULT_ROOT,
    monitorJobs: options.BENCH_MONITOR_JOBS,
  };
  const started = performance.now();
  const loadAtStart = os.loadavg();
  const redis = await openRedis(options.BENCH_REDIS, options.REDIS_URL);
  const services = await openServices('worker', redis.url);
  let cleaned: Promise<void> | undefined;
  let releaseRuns: () => Promise<unknown> = () => Promise.resolve();
  const cleanUp = () =>
    (cleaned ??= releaseRuns()
      .catch(() => undefined)
      .then(() => services.close())
      .finally(() => redis.stop()));
  const release = cleanUpOnInterrupt(cleanUp);
  try {
    const bench = createWorkerBench(
      {
        redisUrl: redis.url,
        privateRedis: redis.private !== null,
        admin: services.admin,
        mongo: services.mongo,
        logger: services.logger,
        image: await fixedImage(settings.size),
      },
      settings,
    );
    releaseRuns = bench.releaseAll;
    print(
      `bench:worker: ${count(settings.jobs)} jobs of ${settings.size}×${settings.size} PNG queued beforehand, ` +
        `then drained; ${settings.endpoints} endpoints (INFERENCE_CONCURRENCY=1) / bare concurrency ${settings.endpoints}.`,
    );
    print(
      `${settings.rounds} rounds, order rotating. Redis: ${options.BENCH_REDIS} (${redis.url}). ` +
        `Result folders under ${settings.resultRoot}.`,
    );
    print(`Load average at start: ${loadAtStart.map((n) => n.toFixed(2)).join(' ')}\n`);

    // Unrecorded: a cold process's first drain measures start-up (JIT, sharp, script loading).
    if (settings.warmupJobs > 0) {
      step(`warm-up: ${count(settings.warmupJobs)} jobs through every side, unrecorded`);
      for (const side of SIDES) await bench.timedRun(side, -1, settings.warmupJobs);
    }
    const runs: SideRun[] = [];
    for (let round = 0; round < settings.rounds; round++) {
      for (const side of rotate(SIDES, round)) {
        const run = await bench.timedRun(side, round);
        runs.push(run);
        step(
          `round ${round + 1}: ${LABELS[side]}: ${run.jobsPerSecond.toFixed(0)} jobs/s, Redis ` +
            `${((run.redis.cpuSeconds * 1000) / run.jobs).toFixed(3)} ms CPU and ` +
            `${(run.redis.totalCalls / run.jobs).toFixed(1)} commands per job, load ${run.loadavg[0]!.toFixed(2)}`,
        );
      }
    }
    const monitored: Monitored[] = [];
    if (settings.monitorJobs > 0) {
      for (const side of SIDES) {
        step(`MONITOR pass: ${LABELS[side]}, ${count(settings.monitorJobs)} jobs`);
        monitored.push({ side, ...(await bench.monitoredRun(side)) });
      }
    }

    const rows = SIDES.map((side) => summarize(runs, side));
    print(`\n1. Jobs per second (median of ${settings.rounds} rounds [min..max]; ÷ bare per round):`);
    print(throughputTable(rows));
    print(
      '\n2. Cost per job (Redis CPU: INFO used_cpu_sys + used_cpu_user of the whole redis-server; commands:\n' +
        '   INFO commandstats, commands run inside scripts included; read events: total_reads_processed):',
    );
    print(costTable(rows));
    print('\n3. Redis commands per job by command (INFO commandstats, median of the rounds):');
    print(commandTable(rows));
    if (monitored.length) {
      print(
        '\n4. What clients sent per job (MONITOR, jobs between the 10 % and 90 % completion; a MULTI…EXEC\n' +
          '   counts once; commands a client pipelined count each, so this is an upper bound of round trips):',
      );
      print(monitorLines(monitored).join('\n'));
    }
    print(
      `\nLoad average now: ${os
        .loadavg()
        .map((n) => n.toFixed(2))
        .join(' ')}.`,
    );
    await cleanUp();
    const totalSeconds = (performance.now() - started) / 1000;
    const file = await writeResults('worker', {
      bench: 'worker',
      finishedAt: new Date().toISOString(),
      machine: machine(services.redisVersion),
      loadavg: { start: loadAtStart, end: os.loadavg() },
      options: { ...settings, redis: options.BENCH_REDIS },
      summary: rows,
      monitored,
      runs,
      totalSeconds,
    });
    print(`Total ${totalSeconds.toFixed(0)} s. Results: ${file}`);
  } finally {
    await cleanUp();
    release();
  }
}

main().catch(exitOnFailure('bench:worker'));
