/**
 * bench:status (issue #3): status-poll latency at 1k and 1M waiting jobs in one tenant lane, ours (the
 * job store's READ and the real GET /status route) against BullMQ's getJobState on the same jobs.
 * Usage: npm run bench:status [-- --depths=1000,100000 --polls=2000 --batch=1000]
 */
import { envFields } from '@castforge/core';
import { z } from 'zod';
import { loadOptions, positiveIntList } from './support/options';
import { exitOnFailure, machine, print, writeResults } from './support/report';
import { cleanUpOnInterrupt, newPrefix, openServices } from './support/services';
import { FILL_METHOD } from './status/fill';
import { METHOD_LABELS } from './status/probes';
import { type DepthResult, setUpStatusBench } from './status/run';
import { fillTable, latencyTable, ratioTable, sameTimeRatios, sequentialRatios } from './status/tables';
import { IN_FLIGHT } from './status/throughput';

const StatusOptions = z
  .object({
    /** Queue depths to measure, ascending; each later one is compared with the first. */
    BENCH_DEPTHS: positiveIntList.default([1000, 1_000_000]),
    BENCH_POLLS: z.coerce.number().int().min(10).default(2000),
    BENCH_BATCH: z.coerce.number().int().min(1).max(10_000).default(1000),
    REDIS_URL: envFields.REDIS_URL,
  })
  .refine((o) => o.BENCH_DEPTHS.every((d, i) => i === 0 || d > o.BENCH_DEPTHS[i - 1]!), {
    path: ['BENCH_DEPTHS'],
    message: 'must be ascending',
  });
type StatusOptions = z.infer<typeof StatusOptions>;

function printResults(options: StatusOptions, results: DepthResult[]) {
  print(`\nFill: ${FILL_METHOD}\n`);
  print(fillTable(results));
  print(`\nStatus-poll latency, ms (${options.BENCH_POLLS} sequential polls per cell):`);
  print(
    Object.values(METHOD_LABELS)
      .map((label) => `  ${label}`)
      .join('\n'),
  );
  print(
    `  * µs/poll: up to ${IN_FLIGHT} polls in flight on one auto-pipelining connection (fewer for slow getStates,\n` +
      '    so Redis is never blocked for long); median of 10 windows of 100 ms: the cost without the wait',
  );
  print(latencyTable(results));
  const sequential = sequentialRatios(results);
  if (sequential.length) {
    print('\nDeep ÷ shallow, main lane, measured minutes apart (the issue’s figure; PING shows the drift):');
    print(ratioTable(sequential));
  }
  print('\nMain lane ÷ control lane (another tenant, first depth), polled in the same rounds (no drift):');
  print(ratioTable(sameTimeRatios(results)));
}

async function main() {
  const options = loadOptions(StatusOptions);
  const started = performance.now();
  const services = await openServices('status', options.REDIS_URL);
  const prefix = newPrefix('status');
  const bench = await setUpStatusBench(services, prefix, {
    polls: options.BENCH_POLLS,
    batchSize: options.BENCH_BATCH,
  });
  let cleaned: ReturnType<typeof bench.cleanUp> | undefined;
  const cleanUp = () => (cleaned ??= bench.cleanUp().finally(() => services.close()));
  const release = cleanUpOnInterrupt(cleanUp);

  print(
    `bench:status: depths ${options.BENCH_DEPTHS.join(', ')}; ${options.BENCH_POLLS} sequential polls per`,
  );
  print(`job and method. Main lane ${bench.lanes.main}, control lane ${bench.lanes.control}, Redis prefix`);
  print(`${prefix}. HTTP: the API app (createApp + buildApiDeps) on a loopback port in this process.\n`);
  try {
    const results = await bench.run(options.BENCH_DEPTHS);
    printResults(options, results);
    const cleanup = await cleanUp();
    const totalSeconds = (performance.now() - started) / 1000;
    const file = await writeResults('status', {
      bench: 'status',
      finishedAt: new Date().toISOString(),
      machine: machine(services.redisVersion),
      options: { depths: options.BENCH_DEPTHS, polls: options.BENCH_POLLS, batch: options.BENCH_BATCH },
      fillMethod: FILL_METHOD,
      http: 'createApp(buildApiDeps(...)) on 127.0.0.1:0 in the bench process; node:http keep-alive client',
      methods: METHOD_LABELS,
      pipelinedInFlight: IN_FLIGHT,
      depths: results,
      sequentialRatios: sequentialRatios(results),
      sameTimeRatios: sameTimeRatios(results),
      cleanup,
      totalSeconds,
    });
    print(
      `\nClean-up: obliterate ${cleanup.obliterateSeconds.toFixed(1)} s, UNLINK of the records ` +
        `${cleanup.unlinkSeconds.toFixed(1)} s, ${cleanup.otherKeys} other keys.`,
    );
    print(`Total ${totalSeconds.toFixed(0)} s. Results: ${file}`);
  } finally {
    await cleanUp();
    release();
  }
}

main().catch(exitOnFailure('bench:status'));
