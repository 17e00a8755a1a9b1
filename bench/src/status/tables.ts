import { count, fixed, ms, table } from '../support/report';
import { ratio } from '../support/stats';
import { METHODS, type Method } from './probes';
import { type DepthResult, type JobResult } from './run';

/** What issue #3 asks of ours: polling a job 1M deep costs at most 1.2× polling it 1k deep. */
export const DEPTH_RATIO_TARGET = 1.2;

export interface DepthRatio {
  /** What is divided by what, e.g. "1,000,000 ÷ 1,000". */
  compared: string;
  position: 'oldest' | 'newest';
  p50: Record<Method, number>;
  p99: Record<Method, number>;
  pipelined: { read: number; getState: number };
  /** Ours (store read and HTTP) within the target at p50. */
  withinTarget: boolean;
}

function compare(compared: string, job: JobResult, base: JobResult): DepthRatio {
  const of = (p: 'p50' | 'p99') =>
    Object.fromEntries(METHODS.map((m) => [m, ratio(job.latencyMs[m][p], base.latencyMs[m][p])])) as Record<
      Method,
      number
    >;
  const p50 = of('p50');
  const pipelined = {
    read: ratio(job.pipelinedUsPerPoll.read, base.pipelinedUsPerPoll.read),
    getState: ratio(job.pipelinedUsPerPoll.getState, base.pipelinedUsPerPoll.getState),
  };
  return {
    compared,
    position: job.position,
    p50,
    p99: of('p99'),
    pipelined,
    withinTarget: p50.read <= DEPTH_RATIO_TARGET && p50.http <= DEPTH_RATIO_TARGET,
  };
}

const mainJobs = (r: DepthResult) => r.jobs.filter((job) => job.lane === 'main');
const find = (jobs: JobResult[], lane: JobResult['lane'], position: JobResult['position']) =>
  jobs.find((job) => job.lane === lane && job.position === position)!;

/** The figure: the main lane at each deeper step ÷ the same lane at the first step (minutes earlier). */
export function sequentialRatios(results: DepthResult[]): DepthRatio[] {
  const [shallow, ...deeper] = results;
  if (!shallow) return [];
  return deeper.flatMap((deep) =>
    mainJobs(deep).map((job) =>
      compare(
        `${count(deep.depth)} ÷ ${count(shallow.depth)}`,
        job,
        find(shallow.jobs, 'main', job.position),
      ),
    ),
  );
}

/** The drift-free figure: the main lane ÷ the control lane (first depth), polled in the same rounds. */
export function sameTimeRatios(results: DepthResult[]): DepthRatio[] {
  return results.flatMap((r) =>
    mainJobs(r).map((job) => {
      const control = find(r.jobs, 'control', job.position);
      return compare(`${count(job.laneDepth)} ÷ ${count(control.laneDepth)}`, job, control);
    }),
  );
}

export function fillTable(results: DepthResult[]): string {
  return table(
    ['waiting jobs (main lane)', 'jobs added', 'fill (s)', 'jobs/s', 'Redis bytes/job'],
    results.map((r) => [
      count(r.depth),
      count(r.fill.jobsAdded),
      r.fill.seconds.toFixed(1),
      count(Math.round(r.fill.jobsPerSecond)),
      count(r.redisBytesPerJob),
    ]),
  );
}

export function latencyTable(results: DepthResult[]): string {
  return table(
    [
      'lane (depth)',
      'job',
      'queue_position',
      'read p50',
      'read p99',
      'HTTP p50',
      'HTTP p99',
      'getState p50',
      'getState p99',
      'getState ÷ read',
      'PING p50',
      'read µs/poll*',
      'getState µs/poll*',
    ],
    results.flatMap((r) =>
      r.jobs.map((job) => [
        `${job.lane} (${count(job.laneDepth)})`,
        job.position,
        count(job.queuePosition),
        ms(job.latencyMs.read.p50),
        ms(job.latencyMs.read.p99),
        ms(job.latencyMs.http.p50),
        ms(job.latencyMs.http.p99),
        ms(job.latencyMs.getState.p50),
        ms(job.latencyMs.getState.p99),
        fixed(ratio(job.latencyMs.getState.p50, job.latencyMs.read.p50), 1),
        ms(job.latencyMs.ping.p50),
        fixed(job.pipelinedUsPerPoll.read, 1),
        fixed(job.pipelinedUsPerPoll.getState, 1),
      ]),
    ),
  );
}

export function ratioTable(ratios: DepthRatio[]): string {
  return table(
    [
      'ratio',
      'job',
      'read p50',
      'read p99',
      'HTTP p50',
      'HTTP p99',
      'getState p50',
      'getState p99',
      'PING p50',
      'read µs/poll*',
      'getState µs/poll*',
      `ours ≤ ${DEPTH_RATIO_TARGET} (p50)`,
    ],
    ratios.map((r) => [
      r.compared,
      r.position,
      fixed(r.p50.read),
      fixed(r.p99.read),
      fixed(r.p50.http),
      fixed(r.p99.http),
      fixed(r.p50.getState),
      fixed(r.p99.getState),
      fixed(r.p50.ping),
      fixed(r.pipelined.read),
      fixed(r.pipelined.getState),
      r.withinTarget ? 'yes' : 'NO',
    ]),
  );
}
