import { type Redis, scanKeys as scanEveryNode } from '@castforge/core';
import { type WorkerHarness } from './worker';
import { waitFor } from './wait';
import { type ReceivedWebhook } from './webhook-receiver';

/** Every key matching `pattern` (SCAN of every master on a cluster: only for a test's own prefix). */
export const scanKeys = (redis: Redis, pattern: string): Promise<string[]> => scanEveryNode(redis, pattern);

/**
 * Waits until nothing an ended job caused is still on its way: every bucket's outbox relayed and no webhook
 * delivery queued, running or waiting for a retry. After that, counting what a receiver got is final.
 */
export function webhooksSettled(worker: WorkerHarness, timeoutMs = 20_000): Promise<true> {
  return waitFor(
    async () => {
      const [pending, counts] = await Promise.all([
        worker.pool.endings.pending(),
        worker.pool.outbox.queue.getJobCounts('wait', 'active', 'delayed', 'prioritized'),
      ]);
      return pending === 0 && Object.values(counts).every((n) => n === 0);
    },
    { timeoutMs, intervalMs: 50, what: 'every outbox entry relayed and every webhook delivery ended' },
  );
}

/** A received webhook's event name, job id and campaign id, read from its body. */
export function eventOf(hook: ReceivedWebhook): {
  event: string;
  jobId: string | null;
  campaignId: string | null;
  webhookId: string;
} {
  const body = JSON.parse(hook.body) as { event?: string; job_id?: string; campaign_id?: string | null };
  return {
    event: body.event ?? '',
    jobId: body.job_id ?? null,
    campaignId: body.campaign_id ?? null,
    webhookId: String(hook.headers['webhook-id']),
  };
}
