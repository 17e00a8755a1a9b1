import { type Queue } from 'bullmq';
import { Gauge, type Registry } from 'prom-client';
import { type JobStore } from '../jobs/job-store';

const REFRESH_MS = 2000;

/**
 * `queue_jobs{queue,state}`, filled on scrape and cached for 2 s: the generation jobs by state from the
 * counters the status scripts keep (one HMGET at any depth), and the webhook deliveries from BullMQ's
 * getJobCounts (flat with depth, see notes/bullmq.md §1.6). Registered by the API and by every worker.
 */
export function registerQueueGauge(registry: Registry, sources: { jobs: JobStore; webhooks: Queue }): void {
  let cached: { at: number; values: { queue: string; state: string; value: number }[] } | undefined;
  const read = async () => {
    const [jobs, webhooks] = await Promise.all([
      sources.jobs.stateCounts(),
      sources.webhooks.getJobCounts('waiting', 'active', 'delayed', 'failed'),
    ]);
    return [
      ...Object.entries(jobs).map(([state, value]) => ({ queue: 'generate', state, value })),
      ...Object.entries(webhooks).map(([state, value]) => ({ queue: 'webhooks', state, value })),
    ];
  };
  new Gauge({
    name: 'queue_jobs',
    help: 'Jobs by queue and state: generate (queued, pending, processing), webhooks (waiting, active, delayed, failed)',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      if (!cached || Date.now() - cached.at > REFRESH_MS) {
        const values = await read().catch(() => undefined);
        if (values) cached = { at: Date.now(), values };
      }
      for (const { queue, state, value } of cached?.values ?? []) this.set({ queue, state }, value);
    },
  });
}
