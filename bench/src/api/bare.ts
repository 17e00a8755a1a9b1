/**
 * bench:api's baselines, independent of castforge code: bare Express 5 with `express.json()`, one BullMQ
 * `queue.add` per POST (the job options our API gives a job: an id, 3 attempts, exponential back-off with
 * jitter) and one HGETALL per status GET. A POST naming a `profile_id` first reads that profile's document
 * with one `findOne` (the MongoDB driver through mongoose, lean), so the profile variant has a floor too.
 * No auth, no validation, no logging, no metrics: the floor those come on top of.
 */
import { randomBytes } from 'node:crypto';
import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import express from 'express';
import { Redis } from 'ioredis';
import mongoose from 'mongoose';
import { type ServerSettings, type StartedServer } from './server-settings';

/** Where the bench writes the bare status hashes it polls (it fills them; this app only reads them). */
export const bareStatusKey = (prefix: string, jobId: string) => `${prefix}:job:${jobId}`;

/** The collection of profile documents the bare app reads (the bench copies ours into it). */
export const BARE_PROFILES = 'bare_profiles';

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
  const mongo = await mongoose.createConnection(settings.mongoUri, { maxPoolSize: 20 }).asPromise();
  const profiles = mongo.collection<{ tenant_id: string; profile_id: string; version: number }>(
    BARE_PROFILES,
  );

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(express.json());
  app.post('/generate/image/v1', async (req, res) => {
    const body = req.body as { profile_id?: string };
    let data: unknown = body;
    if (body.profile_id) {
      const profile = await profiles.findOne(
        { tenant_id: settings.tenant, profile_id: body.profile_id },
        { projection: { _id: 0 } },
      );
      if (!profile) {
        res.status(422).json({ error: 'no such profile' });
        return;
      }
      data = { request: body, profile: { id: profile.profile_id, version: profile.version } };
    }
    const jobId = `job_${randomBytes(8).toString('hex')}`;
    await queue.add('generate', data, {
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
      await mongo.close();
    },
  };
}
