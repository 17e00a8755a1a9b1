/**
 * bench:worker's baseline, independent of castforge code: a bare BullMQ Worker (concurrency = endpoints)
 * doing the minimum of the same job: write the same result bytes to a file in the same kind of result
 * folder, and write the job's status hash once (completed, with the result's key, size, type and time).
 * Jobs are queued beforehand with addBulk, each with a `queued` status hash, as a submit would leave them.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

export interface BareSettings {
  redisUrl: string;
  prefix: string;
  dataDir: string;
  concurrency: number;
  size: number;
  image: Buffer;
}

const QUEUE = 'gen.bare';
const statusKey = (prefix: string, jobId: string) => `${prefix}:job:${jobId}`;

export async function createBareSide(settings: BareSettings) {
  // A worker client waits out outages (maxRetriesPerRequest null, as BullMQ requires for workers).
  const redis = new Redis(settings.redisUrl, {
    maxRetriesPerRequest: null,
    connectionName: 'bench-bare-worker',
  });
  const queue = new Queue(QUEUE, { connection: redis, prefix: `${settings.prefix}:q` });
  await queue.waitUntilReady();
  let onEnded: (jobId: string) => void = () => undefined;
  const worker = new Worker(
    QUEUE,
    async (job) => {
      const key = `${job.id}.png`;
      await writeFile(path.join(settings.dataDir, key), settings.image);
      await redis.hset(statusKey(settings.prefix, job.id!), {
        status: 'completed',
        finished_at: Date.now(),
        result_key: key,
        result_mime_type: 'image/png',
        result_size_bytes: settings.image.length,
      });
      onEnded(job.id!);
    },
    {
      connection: redis,
      prefix: `${settings.prefix}:q`,
      concurrency: settings.concurrency,
      autorun: false,
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 0 },
    },
  );

  return {
    async submit(n: number): Promise<string[]> {
      const ids = Array.from({ length: n }, (_, i) => `job_${String(i).padStart(16, '0')}`);
      for (let from = 0; from < n; from += 1000) {
        const chunk = ids.slice(from, from + 1000);
        const pipeline = redis.pipeline();
        for (const id of chunk) {
          pipeline.hset(statusKey(settings.prefix, id), { status: 'queued', queued_at: Date.now() });
        }
        await pipeline.exec();
        await queue.addBulk(
          chunk.map((jobId) => ({
            name: 'generate',
            data: { prompt: 'a red fox in fresh snow', width: settings.size, height: settings.size },
            opts: { jobId, attempts: 3, backoff: { type: 'exponential', delay: 2000, jitter: 0.5 } },
          })),
        );
      }
      return ids;
    },
    start(ended: (jobId: string) => void): Promise<void> {
      onEnded = ended;
      void worker.run();
      return Promise.resolve();
    },
    async completed(ids: string[]): Promise<number> {
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.hget(statusKey(settings.prefix, id), 'status');
      const replies = (await pipeline.exec()) ?? [];
      return replies.filter(([, status]) => status === 'completed').length;
    },
    async close() {
      await worker.close();
      await queue.close();
      redis.disconnect();
    },
  };
}
