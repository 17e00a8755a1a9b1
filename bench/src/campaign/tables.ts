import { count, fixed, ms, table } from '../support/report';
import { ratio } from '../support/stats';
import { type PollRow } from './poll-campaigns';
import { type SideRound } from './run';
import { type Side, SIDES, SIDE_LABELS } from './sides';

/** Issue #5: ours enqueues at least 0.7 × as fast as bare BullMQ... */
export const THROUGHPUT_TARGET = 0.7;
/** ...and costs at most 1.5 × its Redis memory per queued job, with identical data and options. */
export const MEMORY_TARGET = 1.5;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export interface SideSummary {
  side: Side;
  label: string;
  rounds: number;
  seconds: number;
  jobsPerSecond: number;
  bytesPerJob: number;
  keyBytesPerJob: number;
  dataBytes: number;
  optsBytes: number;
  allSettled: boolean;
}

/** Medians over the rounds, per side. */
export function summarizeSides(rounds: SideRound[]): SideSummary[] {
  return SIDES.map((side) => {
    const mine = rounds.filter((r) => r.side === side);
    return {
      side,
      label: SIDE_LABELS[side],
      rounds: mine.length,
      seconds: median(mine.map((r) => r.seconds)),
      jobsPerSecond: median(mine.map((r) => r.jobsPerSecond)),
      bytesPerJob: median(mine.map((r) => r.memory.bytesPerJob)),
      keyBytesPerJob: median(mine.map((r) => r.keyBytesPerJob)),
      dataBytes: mine[0]?.stored.dataBytes ?? Number.NaN,
      optsBytes: mine[0]?.stored.optsBytes ?? Number.NaN,
      allSettled: mine.every((r) => r.memory.settled),
    };
  });
}

export interface Verdict {
  /** ours jobs/s ÷ identical bare jobs/s (medians); target ≥ THROUGHPUT_TARGET. */
  throughput: number;
  /** ours used_memory Δ per job ÷ identical bare's (medians); target ≤ MEMORY_TARGET. */
  memory: number;
  /** The same from Σ MEMORY USAGE of the keys (drift-free). */
  memoryByKeys: number;
  /** Big campaign ÷ small campaign, GET latency. */
  pollP50: number;
  pollP99: number;
  throughputWithinTarget: boolean;
  memoryWithinTarget: boolean;
}

export function verdict(sides: SideSummary[], polls: PollRow[]): Verdict {
  const of = (side: Side) => sides.find((s) => s.side === side)!;
  const big = polls.find((p) => p.role === 'measured');
  const small = polls.find((p) => p.role === 'context');
  const throughput = ratio(of('ours').jobsPerSecond, of('identical').jobsPerSecond);
  const memory = ratio(of('ours').bytesPerJob, of('identical').bytesPerJob);
  return {
    throughput,
    memory,
    memoryByKeys: ratio(of('ours').keyBytesPerJob, of('identical').keyBytesPerJob),
    pollP50: big && small ? ratio(big.http.p50, small.http.p50) : Number.NaN,
    pollP99: big && small ? ratio(big.http.p99, small.http.p99) : Number.NaN,
    throughputWithinTarget: throughput >= THROUGHPUT_TARGET,
    memoryWithinTarget: memory <= MEMORY_TARGET,
  };
}

const perRound = (rounds: SideRound[], side: Side, value: (r: SideRound) => string) =>
  rounds
    .filter((r) => r.side === side)
    .sort((a, b) => a.round - b.round)
    .map(value)
    .join(' / ');

export function throughputTable(sides: SideSummary[], rounds: SideRound[], v: Verdict): string {
  const bare = sides.find((s) => s.side === 'identical')!;
  return table(
    ['side', 'jobs', 'seconds', 'jobs/s', 'jobs/s by round', '÷ bare (identical)', `≥ ${THROUGHPUT_TARGET}`],
    sides.map((s) => [
      s.label,
      count(rounds.find((r) => r.side === s.side)?.jobs ?? 0),
      fixed(s.seconds, 2),
      count(Math.round(s.jobsPerSecond)),
      perRound(rounds, s.side, (r) => count(Math.round(r.jobsPerSecond))),
      fixed(ratio(s.jobsPerSecond, bare.jobsPerSecond), 2),
      s.side === 'ours' ? (v.throughputWithinTarget ? 'yes' : 'NO') : '',
    ]),
  );
}

export function memoryTable(sides: SideSummary[], rounds: SideRound[], v: Verdict): string {
  const bare = sides.find((s) => s.side === 'identical')!;
  return table(
    [
      'side',
      'data / opts (B)',
      'used_memory Δ B/job',
      'B/job by round',
      'Σ MEMORY USAGE B/job',
      '÷ bare (identical)',
      '÷ bare, by keys',
      `≤ ${MEMORY_TARGET}`,
    ],
    sides.map((s) => [
      s.label,
      `${s.dataBytes} / ${s.optsBytes}`,
      fixed(s.bytesPerJob, 0) + (s.allSettled ? '' : ' †'),
      perRound(rounds, s.side, (r) => fixed(r.memory.bytesPerJob, 0)),
      fixed(s.keyBytesPerJob, 0),
      fixed(ratio(s.bytesPerJob, bare.bytesPerJob), 2),
      fixed(ratio(s.keyBytesPerJob, bare.keyBytesPerJob), 2),
      s.side === 'ours' ? (v.memoryWithinTarget ? 'yes' : 'NO') : '',
    ]),
  );
}

/** Where each side's memory went in the last round, by key group (Σ MEMORY USAGE). */
export function keyTable(rounds: SideRound[]): string {
  const last = Math.max(...rounds.map((r) => r.round));
  const rows = rounds
    .filter((r) => r.round === last)
    .sort((a, b) => SIDES.indexOf(a.side) - SIDES.indexOf(b.side))
    .flatMap((r) =>
      r.keys.map((g) => [
        r.side,
        g.group,
        count(g.keys),
        count(g.bytes),
        fixed(g.bytes / r.jobs, 1),
        g.encoding,
        count(g.sample.bytes),
      ]),
    );
  return table(['side', 'key group', 'keys', 'bytes', 'B/job', 'encoding', 'one key (B)'], rows);
}

export function pollTable(polls: PollRow[]): string {
  const base = polls.find((p) => p.role === 'context');
  const versus = (p: PollRow, pct: 'p50' | 'p99') =>
    p.role !== 'floor' && base ? fixed(ratio(p.http[pct], base.http[pct])) : '';
  return table(
    ['GET', 'campaign', 'shape', 'p50', 'p99', 'mean', 'max', '÷ context p50', '÷ context p99'],
    polls.map((p) => [
      p.role === 'floor' ? 'GET /healthz' : 'GET /campaigns/v1/{id}',
      p.role === 'floor' ? 'floor (same client; no auth, no store)' : p.label,
      p.shape ?? '',
      ms(p.http.p50),
      ms(p.http.p99),
      ms(p.http.mean),
      ms(p.http.max),
      versus(p, 'p50'),
      versus(p, 'p99'),
    ]),
  );
}

/** What GET reads (the Redis hash while live; the MongoDB document only once forgotten), timed directly. */
export function partsTable(polls: PollRow[]): string {
  return table(
    [
      'campaign',
      'MongoDB doc p50 (fallback only)',
      'p99',
      'MongoDB doc (JSON B)',
      'Redis campaign hash p50',
      'p99',
      'HTTP p50 − Redis p50',
    ],
    polls
      .filter((p) => p.parts)
      .map((p) => [
        p.label,
        ms(p.parts!.mongoSummary.p50),
        ms(p.parts!.mongoSummary.p99),
        count(p.parts!.summaryJsonBytes),
        ms(p.parts!.redisRead.p50),
        ms(p.parts!.redisRead.p99),
        ms(p.http.p50 - p.parts!.redisRead.p50),
      ]),
  );
}

/** The largest fields of each campaign's summary document, e.g. "profiles 12,000 B, scene_names 1,500 B". */
export function summaryFieldsLines(polls: PollRow[], top = 3): string {
  return polls
    .filter((p) => p.parts)
    .map((p) => {
      const fields = Object.entries(p.parts!.summaryFieldBytes).slice(0, top);
      return `  ${p.label}: ${fields.map(([name, bytes]) => `${name} ${count(bytes)} B`).join(', ')}`;
    })
    .join('\n');
}
