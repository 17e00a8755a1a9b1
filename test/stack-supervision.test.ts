/**
 * `npm start` keeps its worker alive, and `npm run worker` adds one (issue #8): the stack is started as a
 * user would (apps/stack/dist, built by `npm run build`), on a free port with a Redis prefix, DATA_DIR and
 * MongoDB database of its own. Its worker is SIGKILLed and must come back (with back-off) while the API
 * stays up, and a job must still complete; a second worker started with `npm run worker` must find the
 * stores through DATA_DIR/stack.json alone and run jobs; the API dying stops the whole stack.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger, createRedis, redisKeys } from '@castforge/core';
import { type JobStatus } from '@castforge/schemas';
import { deleteKeys } from '@castforge/testkit';
import { serve, startImageServer, testImage } from '@castforge/testkit/image-server';
import { waitFor } from '@castforge/testkit/wait';
import { freePort } from '../chaos/src/support/ports';

const root = path.resolve(__dirname, '..');

interface Launched {
  child: ChildProcess;
  lines: string[];
  exited: Promise<number>;
}

function launch(script: string, env: NodeJS.ProcessEnv): Launched {
  const child = spawn(process.execPath, [path.join(root, script)], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const collect = (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))),
  );
  return { child, lines, exited };
}

/** The pids of a process's children running `script` (Linux /proc). */
function childrenRunning(pid: number, script: string): number[] {
  const file = `/proc/${pid}/task/${pid}/children`;
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((child) => {
      try {
        return readFileSync(`/proc/${child}/cmdline`, 'utf8').includes(script);
      } catch {
        return false;
      }
    });
}

/** The first JSON log line with this msg, parsed. */
const logLine = (lines: string[], msg: string): Record<string, unknown> | undefined =>
  lines
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.msg === msg);

describe('npm start supervises its worker; npm run worker adds one', () => {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'castforge-stack-test-'));
  const key = `cfk_stack_${randomBytes(12).toString('hex')}`;
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = createRedis(redisUrl, 'command', createLogger({ name: 'test', level: 'silent' }));
  let stack: Launched;
  let added: Launched | undefined;
  let apiUrl: string;

  beforeAll(async () => {
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    stack = launch('apps/stack/dist/index.js', {
      PATH: process.env.PATH,
      PORT: String(port),
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      MONGODB_URI: `${process.env.MONGODB_URI!}/stack_${prefix}`,
      DATA_DIR: dataDir,
      API_KEYS: `stack:${key}`,
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      WORKER_METRICS_PORT: '0',
      SIMULATED_STEP_MS: '5',
    });
    await waitFor(async () => (await fetch(`${apiUrl}/readyz`).catch(() => null))?.ok, {
      timeoutMs: 30_000,
      what: 'the stack’s API to be ready',
    });
  }, 40_000);

  afterAll(async () => {
    added?.child.kill('SIGKILL');
    if (stack.child.exitCode === null) {
      stack.child.kill('SIGTERM');
      await stack.exited;
    }
    await deleteKeys(redis, `${prefix}:*`);
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const submitAndWait = async () => {
    const submitted = await fetch(`${apiUrl}/generate/image/v1`, {
      method: 'POST',
      headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
      body: JSON.stringify({ prompt: 'a lighthouse', width: 64, height: 64, num_inference_steps: 2 }),
    });
    expect(submitted.status).toBe(202);
    const { job_id: jobId } = (await submitted.json()) as { job_id: string };
    return waitFor(
      async () => {
        const res = await fetch(`${apiUrl}/generate/image/v1/status/${jobId}`, {
          headers: { 'X-API-Key': key },
        });
        const status = (await res.json()) as JobStatus;
        return status.status === 'completed' && status;
      },
      { timeoutMs: 30_000, what: `job ${jobId} to complete` },
    );
  };

  it('starts the worker again when it is SIGKILLed, keeps the API up, and runs the next job', async () => {
    const [first] = await waitFor(
      () => {
        const pids = childrenRunning(stack.child.pid!, 'apps/worker/dist/index.js');
        return pids.length === 1 && pids;
      },
      { timeoutMs: 10_000, what: 'the stack’s worker process' },
    );
    process.kill(first!, 'SIGKILL');

    const [second] = await waitFor(
      () => {
        const pids = childrenRunning(stack.child.pid!, 'apps/worker/dist/index.js');
        return pids.length === 1 && pids[0] !== first && pids;
      },
      { timeoutMs: 15_000, what: 'a new worker process' },
    );
    expect(second).not.toBe(first);
    expect(
      stack.lines.some((l) => /\[stack\] worker exited with code 137; starting it again in 1 s/.test(l)),
    ).toBe(true);
    expect(stack.child.exitCode).toBeNull();
    expect((await fetch(`${apiUrl}/healthz`)).status).toBe(200);
    await expect(submitAndWait()).resolves.toMatchObject({ status: 'completed' });
  }, 60_000);

  it('admits input images on this machine, as a developer trying the identity calls locally needs', async () => {
    // The SDK pointed at `npm start` with images served from the same machine (issue #10's check).
    const images = await startImageServer({ '/face.png': serve(await testImage('png'), 'image/png') });
    try {
      expect(stack.lines.some((l) => l.includes('[stack] local development: input image and callback'))).toBe(
        true,
      );
      const submitted = await fetch(`${apiUrl}/identity/lock/image/v1`, {
        method: 'POST',
        headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
        body: JSON.stringify({
          input_image: images.at('/face.png'),
          prompt: 'a lighthouse keeper',
          width: 64,
          height: 64,
          num_inference_steps: 2,
        }),
      });
      expect(submitted.status).toBe(202);
      const { job_id: jobId } = (await submitted.json()) as { job_id: string };
      await waitFor(
        async () => {
          const res = await fetch(`${apiUrl}/identity/lock/image/v1/status/${jobId}`, {
            headers: { 'X-API-Key': key },
          });
          const status = (await res.json()) as JobStatus;
          expect(status.status).not.toBe('failed');
          return status.status === 'completed';
        },
        { timeoutMs: 30_000, what: `lock job ${jobId} to complete` },
      );
      expect(images.requests).toEqual(['/face.png']);
    } finally {
      await images.close();
    }
  }, 60_000);

  it('npm run worker joins the running stack from DATA_DIR/stack.json and runs jobs', async () => {
    // Nothing but DATA_DIR tells it where the stores are.
    added = launch('apps/stack/dist/add-worker.js', {
      PATH: process.env.PATH,
      DATA_DIR: dataDir,
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      SIMULATED_STEP_MS: '5',
    });
    const ready = await waitFor(() => logLine(added!.lines, 'worker ready'), {
      timeoutMs: 20_000,
      what: 'the added worker to be ready',
    });
    const workers = await redis.hkeys(redisKeys(prefix).workers);
    expect(workers).toContain(ready.worker_id);
    expect((await fetch(`http://127.0.0.1:${String(ready.metrics_port)}/readyz`)).status).toBe(200);

    // With the stack's own worker frozen, only the added one can run the job.
    const [own] = childrenRunning(stack.child.pid!, 'apps/worker/dist/index.js');
    process.kill(own!, 'SIGSTOP');
    try {
      await expect(submitAndWait()).resolves.toMatchObject({ status: 'completed' });
    } finally {
      process.kill(own!, 'SIGCONT');
    }
    added.child.kill('SIGTERM');
    expect(await added.exited).toBe(0);
  }, 60_000);

  it('stops the whole stack, with a non-zero code, when the API dies', async () => {
    const [api] = childrenRunning(stack.child.pid!, 'apps/api/dist/index.js');
    process.kill(api!, 'SIGKILL');
    expect(await stack.exited).not.toBe(0);
    expect(stack.lines.some((l) => l.includes('[stack] api exited with code'))).toBe(true);
    expect(existsSync(path.join(dataDir, 'stack.json'))).toBe(false);
    expect(childrenRunning(stack.child.pid!, 'apps/worker/dist/index.js')).toEqual([]);
  }, 60_000);
});
