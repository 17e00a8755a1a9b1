/**
 * bench:api (issue #9): submit and status through the real API app (auth, validation, pino at `info` into
 * a file, metrics, idempotency middleware; rate limit off) against bare Express 5 baselines, each server in
 * a process of its own, load from autocannon in a third, in interleaved rounds.
 * Usage: npm run bench:api [-- --rounds=3 --duration=5 --connections=50 --status-jobs=1000 --cpu-prof=DIR]
 */
import { stat } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { envFields } from '@castforge/core';
import { z } from 'zod';
import { startLoadProcess, startServerProcess } from './api/processes';
import { type ApiBenchSettings, createApiBench, submitBody } from './api/run';
import { type ServerSettings } from './api/server-settings';
import { compare, comparisonTable, cpuTable } from './api/tables';
import { loadOptions } from './support/options';
import { RedisChoice, openRedis } from './support/private-redis';
import { exitOnFailure, machine, print, writeResults } from './support/report';
import { cleanUpOnInterrupt, deleteUnder, newPrefix, openServices } from './support/services';

const ApiOptions = z.object({
  BENCH_ROUNDS: z.coerce.number().int().min(1).max(50).default(3),
  /** Seconds of measured load per side and round. */
  BENCH_DURATION: z.coerce.number().int().min(1).max(600).default(5),
  /** Seconds of unrecorded load before each measured block. */
  BENCH_WARMUP: z.coerce.number().int().min(0).max(60).default(1),
  /** Seconds of unrecorded load on every side before the first round (cold JIT, pools, caches). */
  BENCH_INITIAL_WARMUP: z.coerce.number().int().min(0).max(120).default(3),
  BENCH_CONNECTIONS: z.coerce.number().int().min(1).max(1000).default(50),
  BENCH_STATUS_JOBS: z.coerce.number().int().min(1).max(100_000).default(1000),
  BENCH_REDIS: RedisChoice,
  /** A directory: the real API's process writes a V8 CPU profile there when the run ends (node --cpu-prof). */
  BENCH_CPU_PROF: z.string().min(1).optional(),
  REDIS_URL: envFields.REDIS_URL,
});

const loadLine = () =>
  os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');

async function main() {
  const options = loadOptions(ApiOptions);
  const settings: ApiBenchSettings = {
    connections: options.BENCH_CONNECTIONS,
    durationSeconds: options.BENCH_DURATION,
    warmupSeconds: options.BENCH_WARMUP,
    initialWarmupSeconds: options.BENCH_INITIAL_WARMUP,
    rounds: options.BENCH_ROUNDS,
    statusJobs: options.BENCH_STATUS_JOBS,
  };
  const started = performance.now();
  const loadAtStart = os.loadavg();
  const redis = await openRedis(options.BENCH_REDIS, options.REDIS_URL);
  const services = await openServices('api', redis.url);
  const prefixes = { ours: newPrefix('api'), bare: newPrefix('apibare') };
  const logFile = path.join(tmpdir(), `castforge-${prefixes.ours}.log`);
  const base = { redisUrl: redis.url, mongoUri: services.mongoUri, tenant: 'bench' };
  const serverSettings = (side: 'ours' | 'bare'): ServerSettings => ({
    ...base,
    side,
    prefix: prefixes[side],
    dataDir: path.join(tmpdir(), `castforge-${prefixes[side]}`),
  });
  const stops: (() => Promise<unknown>)[] = [];
  let cleaned: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaned ??= (async () => {
      for (const stop of stops.reverse()) await stop().catch(() => undefined);
      for (const prefix of Object.values(prefixes)) await deleteUnder(services.admin, prefix);
      await services.close();
      await redis.stop();
    })());
  const release = cleanUpOnInterrupt(cleanUp);
  try {
    const ours = await startServerProcess(serverSettings('ours'), logFile, options.BENCH_CPU_PROF);
    stops.push(() => ours.stop());
    const bare = await startServerProcess(serverSettings('bare'), '/dev/null');
    stops.push(() => bare.stop());
    const load = startLoadProcess();
    stops.push(() => load.stop());

    print(
      `bench:api: autocannon c${settings.connections} in its own process, ${settings.rounds} interleaved rounds of ` +
        `${settings.durationSeconds} s per side (after ${settings.warmupSeconds} s of warm-up), rate limit off.`,
    );
    print(
      `Ours: the real API app (pid ${ours.pid}), pino at info into ${logFile}. Bare: Express 5 (pid ${bare.pid}).`,
    );
    print(
      `Redis: ${options.BENCH_REDIS} (${redis.url}). Load average at start: ${loadAtStart.map((n) => n.toFixed(2)).join(' ')}\n`,
    );

    const bench = createApiBench({
      sides: { ours, bare, prefixes },
      load,
      admin: services.admin,
      mongo: services.mongo,
      tenant: base.tenant,
      settings,
    });
    const submitBlocks = await bench.submitRounds();
    const statusBlocks = await bench.statusRounds();
    const blocks = [...submitBlocks, ...statusBlocks];
    const rows = [
      compare(blocks, 'submit', 'submit'),
      compare(blocks, 'submit-profile', 'submit-profile'),
      compare(blocks, 'status', 'status'),
    ];
    print(
      `\nThroughput and p99 (median of ${settings.rounds} rounds [min..max]; ratios per round, then median):`,
    );
    print(comparisonTable(rows));
    print('\nNode CPU of the server process per request (process.cpuUsage over the block ÷ 2xx answers):');
    print(cpuTable(rows));
    print('  With profile_id, the bare app reads the profile document with one findOne before queue.add.');
    const logBytes = (await stat(logFile)).size;
    print(`\nAPI log written during the run: ${logBytes} bytes. Load average now: ${loadLine()}.`);

    await cleanUp();
    const totalSeconds = (performance.now() - started) / 1000;
    const file = await writeResults('api', {
      bench: 'api',
      finishedAt: new Date().toISOString(),
      machine: machine(services.redisVersion),
      loadavg: { start: loadAtStart, end: os.loadavg() },
      options: { ...settings, redis: options.BENCH_REDIS, submitBody },
      rows,
      blocks,
      logBytes,
      totalSeconds,
    });
    print(`Total ${totalSeconds.toFixed(0)} s. Results: ${file}`);
  } finally {
    await cleanUp();
    release();
  }
}

main().catch(exitOnFailure('bench:api'));
