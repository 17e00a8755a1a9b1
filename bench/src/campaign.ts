/**
 * bench:campaign (issue #5): a 100,000-job campaign through the real API against bare BullMQ in the same
 * run: jobs enqueued per second, Redis memory per queued job, and GET /campaigns/v1/{id} latency.
 * Usage: npm run bench:campaign [-- --jobs=10000 --rounds=3 --polls=1000 --context-jobs=10]
 */
import { envFields } from '@castforge/core';
import { z } from 'zod';
import { ROUNDS } from './campaign/polls';
import { createCampaignBench } from './campaign/run';
import { describeShape } from './campaign/shape';
import {
  MEMORY_TARGET,
  THROUGHPUT_TARGET,
  keyTable,
  memoryTable,
  partsTable,
  summaryFieldsLines,
  pollTable,
  summarizeSides,
  throughputTable,
  verdict,
} from './campaign/tables';
import { loadOptions } from './support/options';
import { count, exitOnFailure, fixed, machine, print, writeResults } from './support/report';
import { cleanUpOnInterrupt, openServices } from './support/services';

/** "100000" or "100_000". */
const jobCount = z
  .string()
  .transform((value) => Number(value.replace(/_/g, '')))
  .pipe(z.number().int().positive());

const CampaignOptions = z.object({
  /** Jobs in the measured campaign (= profiles × scenes × variants, picked from it). */
  BENCH_JOBS: jobCount.default(100_000),
  /** Jobs in the small campaign polled beside it. */
  BENCH_CONTEXT_JOBS: jobCount.default(10),
  BENCH_POLLS: z.coerce.number().int().min(20).default(1000),
  /** Rounds of every side; the tables show medians, and each round's figure. */
  BENCH_ROUNDS: z.coerce.number().int().min(1).max(20).default(3),
  REDIS_URL: envFields.REDIS_URL,
});

async function main() {
  const options = loadOptions(CampaignOptions);
  const started = performance.now();
  const services = await openServices('campaign', options.REDIS_URL);
  const bench = createCampaignBench(services, {
    jobs: options.BENCH_JOBS,
    contextJobs: options.BENCH_CONTEXT_JOBS,
    polls: options.BENCH_POLLS,
    rounds: options.BENCH_ROUNDS,
  });
  let cleaned: Promise<{ leftOver: number }> | undefined;
  const cleanUp = () => (cleaned ??= bench.cleanUp().finally(() => services.close().catch(() => undefined)));
  const release = cleanUpOnInterrupt(cleanUp);

  print(
    `bench:campaign: ${count(options.BENCH_JOBS)} jobs (${describeShape(bench.shape)}), ` +
      `${options.BENCH_ROUNDS} rounds, no worker.`,
  );
  print('Ours: the API app (createApp + buildApiDeps) on a loopback port in this process, over HTTP.');
  print('Each side runs under a Redis prefix of its own and is deleted before the next one starts.\n');
  try {
    const { rounds, polls } = await bench.run();
    const sides = summarizeSides(rounds);
    const v = verdict(sides, polls);
    print(
      `\n1. Jobs enqueued per second (median of ${options.BENCH_ROUNDS} rounds; order rotates per round):`,
    );
    print(throughputTable(sides, rounds, v));
    print(
      '\n2. Redis memory per queued job (INFO used_memory after − before, settled, ÷ jobs; medians).\n' +
        '   Σ MEMORY USAGE: every key under the side’s prefix, summed (cannot be moved by other Redis users).',
    );
    print(memoryTable(sides, rounds, v));
    if (sides.some((s) => !s.allSettled)) print('   † Redis did not settle within 15 s in some round.');
    print('\nWhere it goes (last round, Σ MEMORY USAGE by key group):');
    print(keyTable(rounds));
    print(
      `\n3. GET latency, ms (${options.BENCH_POLLS} sequential polls each, interleaved in ${ROUNDS} rounds, ` +
        'one kept-alive connection):',
    );
    print(pollTable(polls));
    print(
      '\nWhat GET reads, timed directly in this process (same rounds): the campaign hash in Redis while the\n' +
        'campaign is live; its MongoDB document (CampaignRepository.get) only once the live state is forgotten:',
    );
    print(partsTable(polls));
    print('Largest fields of each MongoDB campaign document (JSON bytes):');
    print(summaryFieldsLines(polls));
    const unprojected = polls.find((p) => p.parts?.summaryFieldBytes.scenes !== undefined);
    if (unprojected) {
      print(
        `  Note: summary() projects \`scenes\` out, yet they came back (${count(unprojected.parts!.summaryFieldBytes.scenes!)} B ` +
          'for the measured campaign): this MongoDB ignored the projection (the embedded server does).',
      );
    }
    print(
      `\nours ÷ bare: enqueue ${fixed(v.throughput)} (target ≥ ${THROUGHPUT_TARGET}: ` +
        `${v.throughputWithinTarget ? 'yes' : 'NO'}), memory ${fixed(v.memory)} (target ≤ ${MEMORY_TARGET}: ` +
        `${v.memoryWithinTarget ? 'yes' : 'NO'}; by keys ${fixed(v.memoryByKeys)}); ` +
        `GET ${count(options.BENCH_JOBS)} ÷ ${count(options.BENCH_CONTEXT_JOBS)} jobs: ` +
        `p50 ${fixed(v.pollP50)}, p99 ${fixed(v.pollP99)}.`,
    );
    const { leftOver } = await cleanUp();
    print(`\nClean-up: every key under the run's prefixes deleted (${leftOver} found by the final sweep).`);
    const totalSeconds = (performance.now() - started) / 1000;
    const file = await writeResults('campaign', {
      bench: 'campaign',
      finishedAt: new Date().toISOString(),
      machine: machine(services.redisVersion),
      options: {
        jobs: options.BENCH_JOBS,
        shape: bench.shape,
        contextJobs: options.BENCH_CONTEXT_JOBS,
        contextShape: bench.contextShape,
        polls: options.BENCH_POLLS,
        rounds: options.BENCH_ROUNDS,
      },
      targets: { throughput: THROUGHPUT_TARGET, memory: MEMORY_TARGET },
      verdict: v,
      sides,
      polls,
      rounds,
      cleanup: { leftOver },
      totalSeconds,
    });
    print(`Total ${totalSeconds.toFixed(0)} s. Results: ${file}`);
  } finally {
    await cleanUp();
    release();
  }
}

main().catch(exitOnFailure('bench:campaign'));
