import { fixed, table } from '../support/report';
import { type MonitorCounts } from '../support/redis-stats';
import { type Spread, ratio, spread } from '../support/stats';
import { type SideRun, type WorkerSideName } from './run';

/** Issue #9: ≥ 0.7× bare jobs/s, ≤ 4 round trips per job, Redis CPU per job ≤ 1.5× bare. */
export const TARGETS = { throughput: 0.7, roundTrips: 4, redisCpu: 1.5 };

export const LABELS: Record<WorkerSideName, string> = {
  ours: 'ours, zero-time backend',
  'ours-simulated': 'ours, simulated renderer (sharp)',
  bare: 'bare BullMQ Worker',
};

export interface SideSummary {
  side: WorkerSideName;
  jobsPerSecond: Spread;
  wallJobsPerSecond: Spread;
  /** Per round, this side ÷ bare of the same round. */
  throughputOfBare: Spread;
  redisCpuMsPerJob: Spread;
  redisCpuOfBare: Spread;
  commandsPerJob: Spread;
  readsPerJob: Spread;
  nodeCpuMsPerJob: Spread;
  nodeCpuOfBare: Spread;
  /** Median calls per job of each command over the rounds. */
  callsPerJob: Record<string, number>;
}

export function summarize(runs: SideRun[], side: WorkerSideName): SideSummary {
  const mine = runs.filter((r) => r.side === side).sort((a, b) => a.round - b.round);
  const bare = runs.filter((r) => r.side === 'bare').sort((a, b) => a.round - b.round);
  const ofBare = (pick: (r: SideRun) => number) => spread(mine.map((r, i) => ratio(pick(r), pick(bare[i]!))));
  const cpu = (r: SideRun) => (r.redis.cpuSeconds * 1000) / r.jobs;
  const names = new Set(mine.flatMap((r) => Object.keys(r.redis.calls)));
  const callsPerJob = Object.fromEntries(
    [...names].map((name) => [name, spread(mine.map((r) => (r.redis.calls[name] ?? 0) / r.jobs)).median]),
  );
  return {
    side,
    jobsPerSecond: spread(mine.map((r) => r.jobsPerSecond)),
    wallJobsPerSecond: spread(mine.map((r) => r.wallJobsPerSecond)),
    throughputOfBare: ofBare((r) => r.jobsPerSecond),
    redisCpuMsPerJob: spread(mine.map(cpu)),
    redisCpuOfBare: ofBare(cpu),
    commandsPerJob: spread(mine.map((r) => r.redis.totalCalls / r.jobs)),
    readsPerJob: spread(mine.map((r) => r.redis.reads / r.jobs)),
    nodeCpuMsPerJob: spread(mine.map((r) => r.nodeCpuMsPerJob)),
    nodeCpuOfBare: ofBare((r) => r.nodeCpuMsPerJob),
    callsPerJob,
  };
}

const range = (s: Spread, digits: number) =>
  `${fixed(s.median, digits)} [${fixed(s.min, digits)}..${fixed(s.max, digits)}]`;

export function throughputTable(rows: SideSummary[]): string {
  return table(
    ['side', 'jobs/s (steady)', 'jobs/s (wall)', '÷ bare', `≥ ${TARGETS.throughput}`],
    rows.map((r) => [
      LABELS[r.side],
      range(r.jobsPerSecond, 0),
      range(r.wallJobsPerSecond, 0),
      r.side === 'bare' ? '1' : range(r.throughputOfBare, 3),
      r.side === 'ours' ? (r.throughputOfBare.median >= TARGETS.throughput ? 'yes' : 'NO') : '',
    ]),
  );
}

export function costTable(rows: SideSummary[]): string {
  return table(
    [
      'side',
      'Redis CPU ms/job',
      '÷ bare',
      `≤ ${TARGETS.redisCpu}`,
      'Redis commands/job (commandstats)',
      'read events/job',
      'node CPU ms/job',
      '÷ bare',
    ],
    rows.map((r) => [
      LABELS[r.side],
      range(r.redisCpuMsPerJob, 3),
      r.side === 'bare' ? '1' : range(r.redisCpuOfBare, 2),
      r.side === 'ours' ? (r.redisCpuOfBare.median <= TARGETS.redisCpu ? 'yes' : 'NO') : '',
      range(r.commandsPerJob, 2),
      range(r.readsPerJob, 2),
      range(r.nodeCpuMsPerJob, 3),
      r.side === 'bare' ? '1' : range(r.nodeCpuOfBare, 2),
    ]),
  );
}

/** Below this many calls per job on every side, a command is start-up or a timer: summed as one row. */
const RARE = 0.05;

/** Calls per job by command (INFO commandstats; commands run inside scripts count), one column per side. */
export function commandTable(rows: SideSummary[]): string {
  const most = (name: string) => Math.max(...rows.map((r) => r.callsPerJob[name] ?? 0));
  const names = [...new Set(rows.flatMap((r) => Object.keys(r.callsPerJob)))].sort(
    (a, b) => most(b) - most(a),
  );
  const rare = names.filter((name) => most(name) < RARE);
  const rareSum = (r: SideSummary) => rare.reduce((sum, name) => sum + (r.callsPerJob[name] ?? 0), 0);
  return table(
    ['command', ...rows.map((r) => LABELS[r.side])],
    [
      ...names
        .filter((name) => most(name) >= RARE)
        .map((name) => [name, ...rows.map((r) => fixed(r.callsPerJob[name] ?? 0, 2))]),
      ...(rare.length
        ? [[`${rare.length} others (start-up, timers)`, ...rows.map((r) => fixed(rareSum(r), 2))]]
        : []),
      ['total', ...rows.map((r) => fixed(r.commandsPerJob.median, 2))],
    ],
  );
}

export type Monitored = MonitorCounts & { side: WorkerSideName; jobs: number };

const perJob = (counts: Record<string, number>, jobs: number) =>
  Object.entries(counts)
    .sort(([, a], [, b]) => b - a)
    .map(([name, n]) => `${name} ${fixed(n / jobs, 2)}`)
    .join(', ');

/** Requests clients sent per job (round trips, unless pipelined), and what ran inside scripts. */
export function monitorLines(monitored: Monitored[]): string[] {
  return monitored.flatMap((m) => [
    `  ${LABELS[m.side]}: ${fixed(m.requests / m.jobs, 2)} requests/job` +
      (m.side === 'ours'
        ? ` (target ≤ ${TARGETS.roundTrips}: ${m.requests / m.jobs <= TARGETS.roundTrips ? 'yes' : 'NO'})`
        : ''),
    `    sent:       ${perJob(m.sent, m.jobs)}`,
    `    in scripts: ${perJob(m.inScripts, m.jobs) || 'none'}`,
  ]);
}
