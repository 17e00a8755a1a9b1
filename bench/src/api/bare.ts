/**
 * bench:api's baselines, independent of castforge code: bare Express 5 with `express.json()`, one BullMQ
 * `queue.add` per POST (the job options our API gives a job: an id, 3 attempts, exponential back-off with
 * jitter) and one HGETALL per status GET. No auth, no validation, no logging, no metrics: the floor those
 * come on top of.
 */
import { randomBytes } from 'node:crypto';
import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import express from 'express';
import { Redis } from 'ioredis';
import { type ServerSettings, type StartedServer } from './server-settings';

/** Where the bench writes the bare status hashes it polls (it fills them; this app only reads them). */
export const bareStatusKey = (prefix: string, jobId: string) => `${prefix}:job:${jobId}`;

export async function startBare(settings: ServerSettings): Promise<StartedServer> {
  // Fail fast like an HTTP-facing client should (notes/bullmq.md §2.1), as our API's client does.
  const redis = new Redis(settings.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectionName: 'bench-bare-api',
  });
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', resolve);
    redis.once('error', reject);
  });
  const queue = new Queue('gen.bare', { connection: redis, prefix: `${settings.prefix}:q` });

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(express.json());
  app.post('/generate/image/v1', async (req, res) => {
    const jobId = `job_${randomBytes(8).toString('hex')}`;
    await queue.add('generate', req.body as unknown, {
      jobId,
      attempts: 3,
      backoff: { type: 'exponential', delay: 2000, jitter: 0.5 },
    });
    res.status(202).json({ job_id: jobId, status: 'queued' });
  });
  app.get('/generate/image/v1/status/:id', async (req, res) => {
    const fields = await redis.hgetall(bareStatusKey(settings.prefix, req.params.id));
    if (!fields.status) {
      res.status(404).json({ error: 'not found' });
      return;
    }
    res.json(fields);
  });

  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  return {
    port: (server.address() as AddressInfo).port,
    apiKey: null,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await queue.close();
      redis.disconnect();
    },
  };
}
