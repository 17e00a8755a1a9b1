import { count, fixed, table } from '../support/report';
import { ratio } from '../support/stats';
import { type ShapeRun } from './run';

/** Issue #12: connections constant, RSS growth < 1 KB per idle tenant, drain time within 1.2×. */
export const TARGETS = { rssPerTenantBytes: 1024, drainRatio: 1.2 };

const mb = (bytes: number) => fixed(bytes / 2 ** 20, 1);

export function shapeTable(runs: (ShapeRun & { round?: number })[]): string {
  return table(
    [
      'N',
      'shape',
      'round',
      'Redis conns idle → peak → after (CLIENT LIST)',
      'RSS MB idle → peak → after',
      'heap MB idle → after',
      'RSS growth B per tenant (per job for 1×N)',
      'drain s',
      'new tenant: wait ms',
      'backlog left / started after it',
      'load',
    ],
    runs.map((r) => [
      count(r.n),
      r.shape,
      String((r.round ?? 0) + 1),
      `${r.idle.connections} → ${r.peakConnections} → ${r.after.connections} (${r.idle.redisClients} → ${r.after.redisClients})`,
      `${mb(r.idle.rss)} → ${mb(r.peakRss)} → ${mb(r.after.rss)}`,
      `${mb(r.idle.heapUsed)} → ${mb(r.after.heapUsed)}`,
      fixed(r.rssGrowthPerUnit, 0),
      r.drained ? fixed(r.drainSeconds, 1) : 'not drained',
      fixed(r.fresh.waitMs, 0),
      `${count(r.fresh.backlogLeftAtSubmit)} / ${count(r.fresh.backlogStartedAfterIt)}`,
      fixed(r.loadavg[0]!, 2),
    ]),
  );
}

export interface Verdict {
  n: number;
  rounds: number;
  /** Connections after N tenants ÷ before (1 = constant), the highest of the rounds. */
  connectionsGrowth: number;
  /** Medians over the rounds. */
  rssPerIdleTenantBytes: number;
  /** The same less what 1×N grew per job: what a tenant costs beyond the jobs it ran. */
  rssPerTenantBeyondJobsBytes: number;
  /** V8 heap still in use after a full GC, per idle tenant: what the worker holds for tenants it served. */
  heapPerIdleTenantBytes: number;
  /** Drain time N×1 ÷ 1×N, per round, median. */
  drainRatio: number;
  drainRatios: number[];
  connectionsConstant: boolean;
  rssWithinTarget: boolean;
  drainWithinTarget: boolean;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export function verdicts(runs: (ShapeRun & { round?: number })[]): Verdict[] {
  const ns = [...new Set(runs.map((r) => r.n))];
  return ns.flatMap((n) => {
    const ones = runs.filter((r) => r.n === n && r.shape === '1×N');
    const manys = runs.filter((r) => r.n === n && r.shape === 'N×1');
    if (!ones.length || !manys.length) return [];
    const drainRatios = manys.flatMap((many) => {
      const one = ones.find((r) => r.round === many.round) ?? ones[0]!;
      return [ratio(many.drainSeconds, one.drainSeconds)];
    });
    const peak = Math.max(...manys.map((m) => Math.max(m.peakConnections, m.after.connections)));
    const idle = Math.min(...manys.map((m) => m.idle.connections));
    const rssPerIdleTenant = median(manys.map((m) => m.rssGrowthPerUnit));
    const drainRatio = median(drainRatios);
    return [
      {
        n,
        rounds: manys.length,
        connectionsGrowth: ratio(peak, idle),
        rssPerIdleTenantBytes: rssPerIdleTenant,
        rssPerTenantBeyondJobsBytes: rssPerIdleTenant - median(ones.map((o) => o.rssGrowthPerUnit)),
        heapPerIdleTenantBytes: median(manys.map((m) => (m.after.heapUsed - m.idle.heapUsed) / n)),
        drainRatio,
        drainRatios,
        connectionsConstant: peak <= idle,
        rssWithinTarget: rssPerIdleTenant < TARGETS.rssPerTenantBytes,
        drainWithinTarget: drainRatio <= TARGETS.drainRatio,
      },
    ];
  });
}

export function verdictTable(list: Verdict[]): string {
  const yes = (ok: boolean) => (ok ? 'yes' : 'NO');
  return table(
    [
      'N',
      'conns peak ÷ idle (N×1)',
      'constant',
      'RSS B per idle tenant',
      `< ${TARGETS.rssPerTenantBytes}`,
      'less 1×N per job',
      'heap after GC B per idle tenant',
      'drain N×1 ÷ 1×N (rounds)',
      `≤ ${TARGETS.drainRatio}`,
    ],
    list.map((v) => [
      count(v.n),
      fixed(v.connectionsGrowth, 1),
      yes(v.connectionsConstant),
      fixed(v.rssPerIdleTenantBytes, 0),
      yes(v.rssWithinTarget),
      fixed(v.rssPerTenantBeyondJobsBytes, 0),
      fixed(v.heapPerIdleTenantBytes, 0),
      `${fixed(v.drainRatio, 2)} (${v.drainRatios.map((r) => fixed(r, 2)).join(', ')})`,
      yes(v.drainWithinTarget),
    ]),
  );
}
