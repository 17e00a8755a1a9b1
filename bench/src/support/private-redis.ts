import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';

/**
 * Where a bench's Redis comes from. `private` (the default of the cost benches) starts a redis-server of
 * the bench's own, so INFO commandstats, Redis CPU and CLIENT LIST count the bench and nothing else: the
 * shared Redis on this machine serves other people's tests at the same time. `shared` uses REDIS_URL.
 */
export const RedisChoice = z.enum(['private', 'shared']).default('private');
export type RedisChoice = z.infer<typeof RedisChoice>;

export interface PrivateRedis {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** A TCP port nobody listens on right now (redis-server cannot pick one itself: port 0 turns TCP off). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * redis-server on a free loopback port, without persistence, in a temp folder removed on stop.
 * maxclients is raised as far as the file-descriptor limit allows, so a worker that opens a connection per
 * tenant shows how many it opens instead of failing at Redis' default of 10,000.
 */
export async function startPrivateRedis(binary = 'redis-server'): Promise<PrivateRedis> {
  const dir = await mkdtemp(path.join(tmpdir(), 'castforge-bench-redis-'));
  const port = await freePort();
  const child: ChildProcess = spawn(
    binary,
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
      ...['--save', '', '--appendonly', 'no', '--maxclients', '100000', '--protected-mode', 'no'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`redis-server did not start: ${output.join('')}`)),
      10_000,
    );
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString());
      if (/Ready to accept connections/.test(output.join(''))) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${binary} (apt-get install redis-server): ${err.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${output.join('')}`));
    });
  });
  // Nothing reads its log from here on; an unread pipe would eventually block it.
  child.stdout?.resume();
  child.stderr?.resume();
  let stopped: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    stop: () =>
      (stopped ??= (async () => {
        if (child.exitCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          await exited;
        }
        await rm(dir, { recursive: true, force: true });
      })()),
  };
}

/** The Redis a bench talks to: its own redis-server, or the shared one at REDIS_URL. */
export async function openRedis(
  choice: RedisChoice,
  sharedUrl: string,
): Promise<{ url: string; private: PrivateRedis | null; stop(): Promise<void> }> {
  if (choice === 'shared') return { url: sharedUrl, private: null, stop: () => Promise.resolve() };
  const redis = await startPrivateRedis();
  return { url: redis.url, private: redis, stop: () => redis.stop() };
}
