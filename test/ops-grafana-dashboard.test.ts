/**
 * The operator's dashboard and rules against a real Prometheus (Debian's binary) scraping a running API
 * and worker every 2 s, after two rounds of jobs: EVERY panel query of ops/grafana's dashboard (its
 * variables filled as Grafana fills them) and every rule of ops/prometheus evaluates without an error
 * through the HTTP API, the panels return data, and every metric they name exists (or is one the job
 * core is to add). Prometheus runs with a temporary storage directory, deleted at the end.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type OpsStack, startOpsStack } from '@castforge/testkit/ops-stack';
import { type PrometheusServer, startPrometheus } from '@castforge/testkit/prometheus-server';
import {
  type Dashboard,
  dashboardTargets,
  metricNames,
  substituteVariables,
} from '@castforge/testkit/promql';
import { waitFor } from '@castforge/testkit/wait';

const root = path.resolve(__dirname, '..');
const dashboard = JSON.parse(
  readFileSync(path.join(root, 'ops/grafana/dashboards/castforge.json'), 'utf8'),
) as Dashboard;
const ruleFiles = ['castforge.recording.yml', 'castforge.alerts.yml'].map((file) =>
  path.join(root, 'ops/prometheus/rules', file),
);

/**
 * Metrics the rules and the dashboard use that the job core being rebuilt is to export; until then
 * their queries must evaluate but may return nothing.
 */
const PENDING_METRICS = new Set<string>([]);
/** Series that exist only while something is wrong: none on a healthy stack. */
const ONLY_WHEN_WRONG = new Set(['ALERTS', 'rate_limit_fallback_decisions_total', 'jobs_reconciled_total']);

interface RuleGroup {
  rules: {
    name: string;
    query: string;
    type: 'recording' | 'alerting';
    health: string;
    lastError?: string;
  }[];
}

describe('ops/grafana and ops/prometheus against a real Prometheus scraping the stack', () => {
  let stack: OpsStack;
  let prometheus: PrometheusServer;
  let groups: RuleGroup[];
  beforeAll(async () => {
    stack = await startOpsStack('story-grafana');
    prometheus = await startPrometheus({
      targets: { 'castforge-api': [stack.targets.api], 'castforge-worker': [stack.targets.worker] },
      ruleFiles,
      // Every 2 s, with as long to answer: an in-process stack on a loaded machine can take over 1 s.
      intervalSeconds: 2,
    });
    await waitFor(async () => (await prometheus.value('sum(up{job=~"castforge-.*"})')) === 2, {
      timeoutMs: 60_000,
      what: 'both targets to be scraped',
    });
    // Two rounds with scrapes between them, so counters have grown under Prometheus' eyes and rates,
    // ratios and percentiles have numbers, not only series.
    await stack.runJobs();
    await waitFor(
      async () =>
        (await prometheus.value('sum(jobs_submitted_total)')) >= 5 &&
        (await prometheus.value('sum(webhook_deliveries_total)')) >= 2 &&
        (await prometheus.value('sum(jobs_failed_total)')) >= 2,
      { timeoutMs: 60_000, intervalMs: 250, what: 'the first round to be scraped from both targets' },
    );
    await stack.runJobs();
    const grown = [
      'sum(increase(job_queue_wait_seconds_count[2m]))',
      'sum(increase(webhook_deliveries_total[2m]))',
      'sum(increase(jobs_failed_total[2m]))',
      'sum(increase(jobs_submitted_total[2m]))',
    ];
    await waitFor(
      async () => {
        const values = await Promise.all(grown.map((expr) => prometheus.value(expr)));
        if (values.every((value) => value > 0)) return true;
        throw new Error(grown.map((expr, i) => `${expr} = ${values[i]}`).join(', '));
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'the second round to be scraped' },
    );
    const rules = await (await fetch(`${prometheus.url}/api/v1/rules`)).json();
    groups = (rules as { data: { groups: RuleGroup[] } }).data.groups;
  }, 240_000);
  afterAll(async () => {
    await prometheus?.close();
    await stack?.close();
  });

  const targets = dashboardTargets(dashboard).map((t) => ({
    ...t,
    expr: substituteVariables(t.expr, dashboard),
  }));

  it('covers what an operator asks for', () => {
    const titles = new Set(targets.map((t) => t.panel));
    for (const title of [
      'Queue depth per state',
      'Jobs per second',
      'Queue wait (submission to GPU)',
      'Inference latency by backend',
      'GPU slot utilisation per worker',
      'GPU slot utilisation per inference endpoint',
      'Failures by failure_reason_code',
      'Webhook deliveries by outcome',
      'API latency by route (p95)',
    ]) {
      expect(titles).toContain(title);
    }
    expect(targets.length).toBeGreaterThanOrEqual(25);
  });

  it('evaluates every panel query without an error', async () => {
    const errors: string[] = [];
    for (const { panel, expr } of targets) {
      const answer = await prometheus.query(expr);
      if (answer.status !== 'success') errors.push(`${panel}: ${expr}: ${answer.error}`);
    }
    expect(errors).toEqual([]);
  });

  it('gets data for every panel query, except those on metrics still to come or on faults', async () => {
    const checked = targets.filter(
      ({ expr }) => !metricNames(expr).some((name) => PENDING_METRICS.has(name) || ONLY_WHEN_WRONG.has(name)),
    );
    const withoutData = async () => {
      const empty: string[] = [];
      for (const { panel, expr } of checked) {
        const answer = await prometheus.query(expr);
        if (!(answer.data?.result ?? []).some((s) => Number.isFinite(Number(s.value?.[1]))))
          empty.push(`${panel}: ${expr}`);
      }
      return empty;
    };
    // Polled: a scrape that failed on a busy machine marks its target's series stale until the next.
    let empty = await withoutData();
    const deadline = Date.now() + 45_000;
    while (empty.length && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      empty = await withoutData();
    }
    expect(empty).toEqual([]);
    expect(checked.length).toBeGreaterThanOrEqual(20);
  }, 60_000);

  it('names only metrics the stack exports, its recording rules, or the ones still to come', async () => {
    const exported = new Set(
      ((await (await fetch(`${prometheus.url}/api/v1/label/__name__/values`)).json()) as { data: string[] })
        .data,
    );
    const recorded = new Set(
      groups.flatMap((g) => g.rules.filter((r) => r.type === 'recording').map((r) => r.name)),
    );
    const unknown = new Set<string>();
    for (const expr of [
      ...targets.map((t) => t.expr),
      ...groups.flatMap((g) => g.rules.map((r) => r.query)),
    ]) {
      for (const name of metricNames(expr)) {
        if (
          !exported.has(name) &&
          !recorded.has(name) &&
          !PENDING_METRICS.has(name) &&
          !ONLY_WHEN_WRONG.has(name)
        )
          unknown.add(name);
      }
    }
    expect([...unknown]).toEqual([]);
    // The pending list stays honest: a metric that now exists leaves it.
    expect([...PENDING_METRICS].filter((name) => exported.has(name))).toEqual([]);
  });

  it('loads every rule, and Prometheus evaluates each one without an error', async () => {
    const rules = groups.flatMap((g) => g.rules);
    expect(rules).toHaveLength(22);
    expect(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
    const errors: string[] = [];
    for (const rule of rules) {
      const answer = await prometheus.query(rule.query);
      if (answer.status !== 'success') errors.push(`${rule.name}: ${answer.error}`);
    }
    expect(errors).toEqual([]);
  });

  it('records the series the alerts stand on, from the live stack', async () => {
    for (const series of [
      'castforge:queue_jobs:max',
      'castforge:gpu_slots_busy:ratio',
      'castforge:job_queue_wait_seconds:p95_5m',
      'castforge:jobs_failed:ratio_rate15m',
      'castforge:http_requests_5xx:ratio_rate5m',
    ]) {
      await waitFor(async () => ((await prometheus.query(series)).data?.result.length ?? 0) > 0, {
        timeoutMs: 10_000,
        what: `${series} to be recorded`,
      });
    }
  });
});
