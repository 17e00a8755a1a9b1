import {
  type CampaignEnqueuer,
  type JobRef,
  type JobStore,
  type LaneQueues,
  type Logger,
  type RedisKeys,
} from '@castforge/core';
import { type Redis } from 'ioredis';
import { Counter, type Registry } from 'prom-client';

/**
 * Ends what no event will end, exactly once (SPEC §13): a job `processing` or `pending` whose BullMQ job is
 * gone (it failed or was removed while its record still said running), a job whose lane holds it active with
 * no lock (its worker died; the lane's stall check sends it back or fails it), a campaign whose enqueuer
 * stopped (another process takes over). One process reconciles a bucket at a time (a lock per bucket), and
 * every repair goes through the same scripts as normal transitions, so a repair races nothing.
 */
export function createReconciler(deps: {
  redis: Redis;
  keys: RedisKeys;
  jobs: JobStore;
  queues: LaneQueues;
  enqueuer: CampaignEnqueuer;
  workerId: string;
  /** A job is looked at once it has been running or pending this long without moving. */
  olderThanMs: number;
  registry: Registry;
  logger: Logger;
}) {
  const reconciled = new Counter({
    name: 'jobs_reconciled_total',
    help: 'Jobs and campaigns the reconciler ended or resumed because no event would have, by reason',
    labelNames: ['reason'] as const,
    registers: [deps.registry],
  });

  const reconcileBucket = async (bucket: number) => {
    const b = deps.keys.bucket(bucket);
    const lock = b.reconciling;
    if (!(await deps.redis.set(lock, deps.workerId, 'PX', 30_000, 'NX'))) return;
    try {
      const ids = await deps.redis.zrangebyscore(
        b.running,
        '-inf',
        Date.now() - deps.olderThanMs,
        'LIMIT',
        0,
        200,
      );
      for (const jobId of ids) {
        const [status, lane, tenantId, campaignId, index] = await deps.redis.hmget(
          b.job(jobId),
          'status',
          'lane',
          'tenant',
          'campaign_id',
          'campaign_index',
        );
        if (!status || !lane || !tenantId || !['processing', 'pending'].includes(status)) {
          // An entry whose record ended or expired some other way: nothing is running.
          await deps.redis.zrem(b.running, jobId);
          continue;
        }
        const ref: JobRef = {
          jobId,
          tenantId,
          ...(campaignId ? { campaign: { campaignId, index: Number(index) } } : {}),
        };
        const [exists, locked] = await Promise.all([
          deps.redis.exists(b.bullJob(lane, jobId)),
          deps.redis.exists(`${b.bullJob(lane, jobId)}:lock`),
        ]);
        if (!exists) {
          const ended = await deps.jobs.finish(
            ref,
            'failed',
            {
              error: 'the job was lost by its worker (it stopped and the queue no longer holds the job)',
              failure_reason_code: 'INTERNAL_ERROR',
              retryable: true,
            },
            { onlyIfGoneFrom: lane },
          );
          if (ended.changed) {
            reconciled.inc({ reason: 'orphaned' });
            deps.logger.warn({ job_id: jobId, status }, 'reconciler ended a job no worker holds');
          }
        } else if (!locked && status === 'processing') {
          // Its worker died: the lane's stall check moves it back (or fails it past the stall limit).
          const moved = await deps.queues.get(bucket, lane).getBackend().moveStalledJobsToWait();
          if (moved.length) reconciled.inc({ reason: 'stalled' }, moved.length);
        } else {
          // Held and running (a long job): looked at again after the others, so 200 long jobs of a bucket
          // never hide an orphan behind them. XX: an entry FINISH removed meanwhile is not brought back.
          await deps.redis.zadd(b.running, 'XX', Date.now(), jobId);
        }
      }
    } finally {
      if ((await deps.redis.get(lock)) === deps.workerId) await deps.redis.del(lock);
    }
  };

  return {
    async run(): Promise<void> {
      for (const b of deps.keys.allBuckets()) {
        await reconcileBucket(b.bucket).catch((err: Error) =>
          deps.logger.warn({ bucket: b.bucket, err: err.message }, 'reconciling a bucket failed'),
        );
      }
      const resumed = await deps.enqueuer.resumeStalled().catch((err: Error) => {
        deps.logger.warn({ err: err.message }, 'resuming interrupted campaigns failed');
        return 0;
      });
      if (resumed) reconciled.inc({ reason: 'enqueue_resumed' }, resumed);
    },
  };
}
export type Reconciler = ReturnType<typeof createReconciler>;
