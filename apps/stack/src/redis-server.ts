import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';

async function answers(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/**
 * Makes sure Redis answers at `url`. When nothing answers on a local address and `redis-server` is on the
 * PATH, starts one for this run (in memory, nothing on disk); otherwise says plainly what to install.
 */
export async function ensureRedis(url: string): Promise<{ child?: ChildProcess; started: boolean }> {
  if (await answers(url)) return { started: false };
  const { hostname, port } = new URL(url);
  if (!LOCAL_HOSTS.has(hostname)) {
    throw new Error(
      `Redis is not answering at ${url}. Start it there, or unset REDIS_URL to use a local one.`,
    );
  }
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new Error(
      `Redis is not answering at ${url} and redis-server is not installed. Install it (Debian/Ubuntu: ` +
        '`sudo apt install redis-server`, macOS: `brew install redis`) or set REDIS_URL to a running Redis.',
    );
  }
  const child = spawn(
    'redis-server',
    [
      '--port',
      port || '6379',
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'noeviction',
    ],
    { stdio: 'ignore', detached: true },
  );
  for (let i = 0; i < 50; i++) {
    if (child.exitCode !== null) break;
    if (await answers(url)) return { child, started: true };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server was started for ${url} but did not answer within 5 s`);
}
