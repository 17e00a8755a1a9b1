import { count, fixed, table } from '../support/report';
import { ratio } from '../support/stats';
import { type ShapeRun } from './run';

/** Issue #12: connections constant, RSS growth < 1 KB per idle tenant, drain time within 1.2×. */
export const TARGETS = { rssPerTenantBytes: 1024, drainRatio: 1.2 };

const mb = (bytes: number) => fixed(bytes / 2 ** 20, 1);

export function shapeTable(runs: ShapeRun[]): string {
  return table(
    [
      'N',
      'shape',
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
  /** Connections after N tenants ÷ before (1 = constant). */
  connectionsGrowth: number;
  rssPerIdleTenantBytes: number;
  /** The same less what 1×N grew per job: what a tenant costs beyond the jobs it ran. */
  rssPerTenantBeyondJobsBytes: number;
  /** Drain time N×1 ÷ 1×N. */
  drainRatio: number;
  connectionsConstant: boolean;
  rssWithinTarget: boolean;
  drainWithinTarget: boolean;
}

export function verdicts(runs: ShapeRun[]): Verdict[] {
  const ns = [...new Set(runs.map((r) => r.n))];
  return ns.flatMap((n) => {
    const one = runs.find((r) => r.n === n && r.shape === '1×N');
    const many = runs.find((r) => r.n === n && r.shape === 'N×1');
    if (!one || !many) return [];
    const drainRatio = ratio(many.drainSeconds, one.drainSeconds);
    return [
      {
        n,
        connectionsGrowth: ratio(
          Math.max(many.peakConnections, many.after.connections),
          many.idle.connections,
        ),
        rssPerIdleTenantBytes: many.rssGrowthPerUnit,
        rssPerTenantBeyondJobsBytes: many.rssGrowthPerUnit - one.rssGrowthPerUnit,
        drainRatio,
        connectionsConstant: Math.max(many.peakConnections, many.after.connections) <= many.idle.connections,
        rssWithinTarget: many.rssGrowthPerUnit < TARGETS.rssPerTenantBytes,
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
      'drain N×1 ÷ 1×N',
      `≤ ${TARGETS.drainRatio}`,
    ],
    list.map((v) => [
      count(v.n),
      fixed(v.connectionsGrowth, 1),
      yes(v.connectionsConstant),
      fixed(v.rssPerIdleTenantBytes, 0),
      yes(v.rssWithinTarget),
      fixed(v.rssPerTenantBeyondJobsBytes, 0),
      fixed(v.drainRatio, 2),
      yes(v.drainWithinTarget),
    ]),
  );
}
