import { MAX_EVENTS_KEPT } from './job-store';
import { type RedisKeys } from './keys';
import { Queue, type QueueOptions } from 'bullmq';
import { type Redis } from 'ioredis';

export interface LaneQueueOptions {
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
}

/**
 * BullMQ Queue objects for the lanes a process is serving, created on first use and dropped when least
 * recently used: a Queue shares the process's connection (no connection, timer or blocking client of its
 * own), so what a worker holds is bounded by `capacity`, not by the number of tenants that ever submitted.
 * The worker drives lanes through each Queue's backend (`IQueueBackend`: moveToActive, extendLocks,
 * moveStalledJobsToWait), which reads the lock and stall settings from the Queue's options.
 */
export function createLaneQueues(deps: {
  redis: Redis;
  keys: RedisKeys;
  /** The worker's lock and stall settings (a producer leaves them out). */
  options?: LaneQueueOptions;
  capacity?: number;
}) {
  // A worker drives few lanes at once (its slots, and the lanes it visits in a second); a Queue is a few KB.
  const capacity = deps.capacity ?? 64;
  const queues = new Map<string, Queue>();
  /** Lanes with a job in flight here: their Queue is never closed under the job. */
  const holds = new Map<string, number>();

  const open = (bucket: number, lane: string) => {
    const options = {
      connection: deps.redis,
      prefix: deps.keys.bucket(bucket).bullPrefix,
      // Our scripts set the events cap when a lane gets work; each Queue need not write it again.
      skipMetasUpdate: true,
      // No INFO per lane: the process's connection was checked when it started, and a lane Queue never blocks
      // (the version only picks blocking timeouts). A new tenant's lane costs no round trip of its own.
      skipVersionCheck: true,
      streams: { events: { maxLen: MAX_EVENTS_KEPT } },
      // Read by the backend's moveToActive and moveStalledJobsToWait, as a Worker's options would be.
      ...(deps.options && {
        lockDuration: deps.options.lockDurationMs,
        stalledInterval: deps.options.stalledIntervalMs,
        maxStalledCount: deps.options.maxStalledCount,
      }),
    } as QueueOptions;
    const queue = new Queue(lane, options);
    queue.on('error', () => undefined);
    return queue;
  };

  return {
    get(bucket: number, lane: string): Queue {
      const key = `${bucket}|${lane}`;
      let queue = queues.get(key);
      if (queue) {
        // Most recently used last.
        queues.delete(key);
      } else {
        queue = open(bucket, lane);
        if (queues.size >= capacity) {
          for (const [oldestKey, oldest] of queues) {
            if (holds.has(oldestKey)) continue;
            queues.delete(oldestKey);
            // Closing a Queue on a shared connection leaves the connection open.
            void oldest.close().catch(() => undefined);
            break;
          }
        }
      }
      queues.set(key, queue);
      return queue;
    },
    /** Keeps a lane's Queue open while one of its jobs is in flight here. */
    hold(bucket: number, lane: string): () => void {
      const key = `${bucket}|${lane}`;
      holds.set(key, (holds.get(key) ?? 0) + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (holds.get(key) ?? 1) - 1;
        if (left > 0) holds.set(key, left);
        else holds.delete(key);
      };
    },
    get size() {
      return queues.size;
    },
    async close(): Promise<void> {
      await Promise.all([...queues.values()].map((queue) => queue.close().catch(() => undefined)));
      queues.clear();
    },
  };
}
export type LaneQueues = ReturnType<typeof createLaneQueues>;
