/**
 * What an operator's Prometheus accepts (SPEC §10): the API's and the worker's /metrics pass the real
 * `promtool check metrics` (Debian's `prometheus` package) after a few jobs, so every metric family has
 * samples, and no gauge wears a counter's `_total` suffix.
 */
import { type OpsStack, startOpsStack } from '@castforge/testkit/ops-stack';
import { promtool } from '@castforge/testkit/promtool';

/** `# TYPE name type` lines of an exposition. */
const types = (exposition: string) =>
  [...exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => ({ name: name!, type: type! }));

describe('GET /metrics of the API and of the worker', () => {
  let stack: OpsStack;
  let metrics: { api: string; worker: string };
  beforeAll(async () => {
    stack = await startOpsStack('story-promtool');
    await stack.runJobs();
    metrics = await stack.metrics();
  }, 60_000);
  afterAll(() => stack?.close());

  it.each(['api', 'worker'] as const)('the %s passes promtool check metrics', async (process) => {
    const result = await promtool(['check', 'metrics'], { stdin: metrics[process] });
    expect({ code: result.code, problems: result.stderr + result.stdout }).toEqual({ code: 0, problems: '' });
  });

  it('is checked by a promtool that does refuse a gauge named like a counter', async () => {
    const bad = '# HELP jobs_waiting_total Jobs.\n# TYPE jobs_waiting_total gauge\njobs_waiting_total 1\n';
    const result = await promtool(['check', 'metrics'], { stdin: bad });
    expect(result.code).not.toBe(0);
    expect(result.stderr + result.stdout).toMatch(/non-counter metrics should not have "_total" suffix/);
  });

  it('keeps the typed handle, request and resource gauges whose sums were the _total gauges', () => {
    for (const text of [metrics.api, metrics.worker]) {
      const names = types(text).map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(['nodejs_active_handles', 'nodejs_active_requests']));
      expect(names.filter((name) => name.startsWith('nodejs_active_') && name.endsWith('_total'))).toEqual(
        [],
      );
    }
  });

  it('shows the job, queue, inference, webhook, HTTP and dependency metrics with samples', () => {
    for (const [text, name] of [
      [metrics.api, 'http_request_duration_seconds_count'],
      [metrics.api, 'jobs_submitted_total'],
      [metrics.api, 'queue_jobs'],
      [metrics.worker, 'jobs_completed_total'],
      [metrics.worker, 'jobs_failed_total'],
      [metrics.worker, 'job_queue_wait_seconds_count'],
      [metrics.worker, 'inference_duration_seconds_count'],
      [metrics.worker, 'webhook_deliveries_total'],
      [metrics.worker, 'gpu_slots'],
      [metrics.api, 'dependency_up'],
      [metrics.worker, 'dependency_up'],
    ] as const) {
      expect(text).toMatch(new RegExp(`^${name}\\{[^}]*\\} \\d`, 'm'));
    }
  });
});
