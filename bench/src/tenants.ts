/**
 * bench:tenants (issue #12): what a worker process costs as tenants multiply. 1 tenant × N jobs against
 * N tenants × 1 job: Redis connections the worker holds, its RSS, drain time, and how long a new tenant's
 * first job waits while the others' backlog drains. The worker is a production process of its own
 * (apps/worker/dist/index.js), so its connections and memory are its alone.
 * Usage: npm run bench:tenants [-- --tenants=1000,10000 --endpoints=8 --image-ms=0]
 */
import os from 'node:os';
import { envFields } from '@castforge/core';
import { z } from 'zod';
import { loadOptions, positiveIntList } from './support/options';
import { RedisChoice, openRedis } from './support/private-redis';
import { ResultRoot } from './support/result-root';
import { exitOnFailure, machine, print, step, writeResults } from './support/report';
import { cleanUpOnInterrupt, openServices } from './support/services';
import { SHAPES, type ShapeRun, createTenantsBench } from './tenants/run';
import { shapeTable, verdictTable, verdicts } from './tenants/tables';

const TenantsOptions = z.object({
  /** The N of each pair of runs. */
  BENCH_TENANTS: positiveIntList.default([1000, 10_000]),
  BENCH_ENDPOINTS: z.coerce.number().int().min(1).max(64).default(8),
  /** SIMULATED_IMAGE_MS of the worker: 0 measures the worker's own cost, not a GPU's. */
  BENCH_IMAGE_MS: z.coerce.number().int().min(0).max(60_000).default(0),
  /** Seconds a drain may take before the run is reported as not drained. */
  BENCH_DRAIN_TIMEOUT: z.coerce.number().int().min(10).default(900),
  /** Jobs of a warm-up tenant before each run's idle snapshot. */
  BENCH_WARMUP_JOBS: z.coerce.number().int().min(0).default(200),
  /** Each N is run this many times, the shapes' order alternating; the verdicts take the medians. */
  BENCH_ROUNDS: z.coerce.number().int().min(1).max(9).default(3),
  /** Where result folders go: /dev/shm when present (see support/result-root.ts). */
  BENCH_RESULT_ROOT: ResultRoot,
  BENCH_REDIS: RedisChoice,
  REDIS_URL: envFields.REDIS_URL,
});

async function main() {
  const options = loadOptions(TenantsOptions);
  const started = performance.now();
  const loadAtStart = os.loadavg();
  const redis = await openRedis(options.BENCH_REDIS, options.REDIS_URL);
  const services = await openServices('tenants', redis.url);
  let cleaned: Promise<void> | undefined;
  let releaseRuns: () => Promise<unknown> = () => Promise.resolve();
  const cleanUp = () =>
    (cleaned ??= releaseRuns()
      .catch(() => undefined)
      .then(() => services.close())
      .finally(() => redis.stop()));
  const release = cleanUpOnInterrupt(cleanUp);
  try {
    const bench = createTenantsBench(
      {
        redisUrl: redis.url,
        redisPort: Number(new URL(redis.url).port || 6379),
        admin: services.admin,
        mongo: services.mongo,
        mongoUri: services.mongoUri,
        logger: services.logger,
      },
      {
        endpoints: options.BENCH_ENDPOINTS,
        imageMs: options.BENCH_IMAGE_MS,
        warmupJobs: options.BENCH_WARMUP_JOBS,
        resultRoot: options.BENCH_RESULT_ROOT,
        drainTimeoutSeconds: options.BENCH_DRAIN_TIMEOUT,
      },
    );
    releaseRuns = bench.releaseAll;
    print(
      `bench:tenants: N = ${options.BENCH_TENANTS.join(', ')}; a worker process per run (simulated backend, ` +
        `${options.BENCH_ENDPOINTS} endpoints, SIMULATED_IMAGE_MS=${options.BENCH_IMAGE_MS}).`,
    );
    print(
      `Redis: ${options.BENCH_REDIS} (${redis.url}). Load average at start: ${loadAtStart.map((n) => n.toFixed(2)).join(' ')}\n`,
    );
    const runs: ShapeRun[] = [];
    for (const n of options.BENCH_TENANTS) {
      for (let round = 0; round < options.BENCH_ROUNDS; round++) {
        for (const shape of round % 2 ? [...SHAPES].reverse() : SHAPES) {
          step(`${shape}, N=${n}, round ${round + 1}: starting a worker process`);
          const run = { ...(await bench.runShape(n, shape)), round };
          runs.push(run);
          step(
            `${shape}, N=${n}: drain ${run.drained ? `${run.drainSeconds.toFixed(1)} s` : 'NOT finished'}, ` +
              `connections ${run.idle.connections} → ${run.peakConnections} (peak), load ${run.loadavg[0]!.toFixed(2)}`,
          );
        }
      }
    }
    print("\nPer run (connections: the worker process's TCP connections to Redis, from /proc; RSS: VmRSS):");
    print(shapeTable(runs));
    for (const run of runs.filter((r) => r.workerLog.lines > 0)) {
      const top = run.workerLog.top.map((t) => `${t.count}× ${t.text}`).join('; ');
      print(`  ${run.shape}, N=${run.n}: the worker logged ${run.workerLog.lines} warnings/errors: ${top}`);
      print(`    (${run.workerLog.file})`);
    }
    print(
      '\nAgainst the targets (N tenants × 1 job, compared with its idle start and with 1 tenant × N jobs):',
    );
    const list = verdicts(runs);
    print(verdictTable(list));
    print(
      `\nLoad average now: ${os
        .loadavg()
        .map((n) => n.toFixed(2))
        .join(' ')}.`,
    );
    await cleanUp();
    const totalSeconds = (performance.now() - started) / 1000;
    const file = await writeResults('tenants', {
      bench: 'tenants',
      finishedAt: new Date().toISOString(),
      machine: machine(services.redisVersion),
      loadavg: { start: loadAtStart, end: os.loadavg() },
      options: {
        tenants: options.BENCH_TENANTS,
        endpoints: options.BENCH_ENDPOINTS,
        imageMs: options.BENCH_IMAGE_MS,
        warmupJobs: options.BENCH_WARMUP_JOBS,
        rounds: options.BENCH_ROUNDS,
        redis: options.BENCH_REDIS,
      },
      verdicts: list,
      runs,
      totalSeconds,
    });
    print(`Total ${totalSeconds.toFixed(0)} s. Results: ${file}`);
  } finally {
    await cleanUp();
    release();
  }
}

main().catch(exitOnFailure('bench:tenants'));
