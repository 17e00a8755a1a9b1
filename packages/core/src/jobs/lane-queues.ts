import { MAX_EVENTS_KEPT } from './job-store';
import { type RedisKeys } from './keys';
import { waitForRedis } from '../redis/connection';
import { type ScriptName, defineScripts } from './scripts';
import { Queue, type QueueOptions, createIORedisClient } from 'bullmq';
import { type ChainableCommander, type Redis } from 'ioredis';

/** A MULTI that can add a job, the connection it runs on, and a way to give that connection up. */
export interface Transaction {
  multi: ChainableCommander;
  /** A WAIT for replicas must be sent on the connection that made the writes. */
  connection: Redis;
  /**
   * Drops the connection; the next transaction opens a fresh one. For a Redis Cluster client whose transaction
   * failed: one that sent a MULTI again (MOVED, a failover) can be left with replies that no longer line up
   * with its commands (a WAIT was seen answered with an EXECABORT).
   */
  retire: () => void;
}

/** Our scripts a submit's MULTI runs beside BullMQ's add: the record's CREATE. */
const SUBMIT_SCRIPTS: readonly ScriptName[] = ['jobCreate'];
/** BullMQ's scripts that add a job (standard, prioritized, delayed), by their versioned command names. */
const BULL_ADD_SCRIPTS = /^add(?:Standard|Prioritized|Delayed)Job:/;
interface BullScript {
  lua: string;
  numberOfKeys: number | null;
}

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
  let adder: Promise<Redis> | undefined;
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

  /**
   * The connection adds run on (see `transaction`), made on first use: a duplicate of the shared one (same
   * options and name) holding our SUBMIT_SCRIPTS and BullMQ's add scripts, copied from the shared connection
   * once a Queue has loaded them there.
   */
  const adderConnection = (queue: Queue) =>
    (adder ??= (async () => {
      const shared = (await queue.getBackend().client) as unknown as Redis;
      const client = deps.redis.duplicate();
      // The shared connection reports outages; a command on this one fails fast and says so itself.
      client.on('error', () => undefined);
      defineScripts(client, SUBMIT_SCRIPTS);
      const bullScripts = shared.scriptsSet as Record<string, BullScript>;
      for (const [name, script] of Object.entries(bullScripts)) {
        if (BULL_ADD_SCRIPTS.test(name)) {
          client.defineCommand(name, { lua: script.lua, numberOfKeys: script.numberOfKeys ?? undefined });
        }
      }
      const connectTimeoutMs = (client.options as { connectTimeout?: number }).connectTimeout ?? 2000;
      await waitForRedis(client, connectTimeoutMs).catch((err: unknown) => {
        adder = undefined;
        client.disconnect();
        throw err;
      });
      return client;
    })());

  return {
    /**
     * A MULTI that can add a job to `queue` and run CREATE (`jobCreate`), with the connection it runs on (a
     * WAIT for replicas must be sent on that connection). ioredis copies every script defined on a connection
     * into each MULTI it makes, and BullMQ defines some sixty on the shared one: that copy was a fifth of a
     * submit's CPU. So adds run on a connection of their own that holds only the scripts an add needs.
     */
    async transaction(queue: Queue): Promise<Transaction> {
      const made = adderConnection(queue);
      const connection = await made;
      // BullMQ's wrapper gives the MULTI the `runCommand` its add calls.
      const multi = createIORedisClient(connection).multi();
      const retire = () => {
        if (adder !== made) return;
        adder = undefined;
        connection.disconnect();
      };
      return { multi, connection, retire };
    },

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
      const pending = adder;
      adder = undefined;
      (await pending?.catch(() => undefined))?.disconnect();
    },
  };
}
export type LaneQueues = ReturnType<typeof createLaneQueues>;
