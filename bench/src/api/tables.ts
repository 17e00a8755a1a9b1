import { count, fixed, table } from '../support/report';
import { type Spread, ratio, spread } from '../support/stats';
import { type Block, type Scenario, type Side } from './run';

/** Issue #9's targets: submit ≥ 0.85× bare req/s with p99 ≤ 1.5× bare; status ≥ 0.8× bare req/s. */
export const TARGETS = { submit: 0.85, submitP99: 1.5, status: 0.8 };

export interface SideFigures {
  requestsPerSecond: Spread;
  p99Ms: Spread;
  cpuUsPerRequest: Spread;
}

export interface Comparison {
  scenario: Scenario;
  ours: SideFigures;
  bare: SideFigures;
  /** Per round ours ÷ bare of the same round, then median [min..max]. */
  throughputRatio: Spread;
  p99Ratio: Spread;
  cpuRatio: Spread;
  target: string;
  withinTarget: boolean;
}

const figures = (blocks: Block[]): SideFigures => ({
  requestsPerSecond: spread(blocks.map((b) => b.load.requestsPerSecond)),
  p99Ms: spread(blocks.map((b) => b.load.latencyMs.p99)),
  cpuUsPerRequest: spread(blocks.map((b) => b.cpuUsPerRequest)),
});

/** Ours in `scenario` against the bare side of `bareScenario`. */
export function compare(blocks: Block[], scenario: Scenario, bareScenario: Scenario): Comparison {
  const of = (side: Side, s: Scenario) =>
    blocks.filter((b) => b.side === side && b.scenario === s).sort((a, b) => a.round - b.round);
  const ours = of('ours', scenario);
  const bare = of('bare', bareScenario);
  const perRound = (pick: (b: Block) => number) => spread(ours.map((o, i) => ratio(pick(o), pick(bare[i]!))));
  const throughputRatio = perRound((b) => b.load.requestsPerSecond);
  const p99Ratio = perRound((b) => b.load.latencyMs.p99);
  const isStatus = scenario === 'status';
  const withinTarget = isStatus
    ? throughputRatio.median >= TARGETS.status
    : throughputRatio.median >= TARGETS.submit && p99Ratio.median <= TARGETS.submitP99;
  return {
    scenario,
    ours: figures(ours),
    bare: figures(bare),
    throughputRatio,
    p99Ratio,
    cpuRatio: perRound((b) => b.cpuUsPerRequest),
    target: isStatus ? `≥ ${TARGETS.status}×` : `≥ ${TARGETS.submit}×, p99 ≤ ${TARGETS.submitP99}×`,
    withinTarget,
  };
}

const withRange = (s: Spread, format: (n: number) => string) =>
  `${format(s.median)} [${format(s.min)}..${format(s.max)}]`;
const rps = (n: number) => count(Math.round(n));
const r2 = (n: number) => fixed(n, 2);

const LABELS: Record<Scenario, string> = {
  submit: 'POST /generate/image/v1',
  'submit-profile': 'POST … with profile_id',
  status: 'GET …/status/{id}',
};

export function comparisonTable(rows: Comparison[]): string {
  return table(
    [
      'path',
      'ours req/s',
      'ours p99 ms',
      'bare req/s',
      'bare p99 ms',
      'req/s ours ÷ bare',
      'p99 ours ÷ bare',
      'target',
      'met',
    ],
    rows.map((r) => [
      LABELS[r.scenario],
      withRange(r.ours.requestsPerSecond, rps),
      withRange(r.ours.p99Ms, (n) => fixed(n, 0)),
      withRange(r.bare.requestsPerSecond, rps),
      withRange(r.bare.p99Ms, (n) => fixed(n, 0)),
      withRange(r.throughputRatio, r2),
      withRange(r.p99Ratio, r2),
      r.target,
      r.withinTarget ? 'yes' : 'NO',
    ]),
  );
}

export function cpuTable(rows: Comparison[]): string {
  return table(
    ['path', 'ours µs CPU/request', 'bare µs CPU/request', 'ours ÷ bare'],
    rows.map((r) => [
      LABELS[r.scenario],
      withRange(r.ours.cpuUsPerRequest, (n) => fixed(n, 0)),
      withRange(r.bare.cpuUsPerRequest, (n) => fixed(n, 0)),
      withRange(r.cpuRatio, r2),
    ]),
  );
}
