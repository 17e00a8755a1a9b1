import { reapOnExit } from '../support/reaper';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import { sleep, until } from '../support/time';

export interface OwnRedis {
  url: string;
  port: number;
  /** Kills redis-server with SIGKILL and starts it again on the same port and AOF. Returns the time down. */
  restart(): Promise<{ downMs: number }>;
  stop(): Promise<void>;
}

/** Whether the redis-server of `pid` answers at `url` with its dataset loaded (any server, when pid is 0). */
async function answers(url: string, pid = 0): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 500,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    // PING answers while the AOF is still loading; a loaded dataset is what "back" means here. The
    // process id makes sure it is our server answering, not one that held the port before us.
    const info = await client.info();
    return /loading:0/.test(info) && (!pid || new RegExp(`process_id:${pid}\\b`).test(info));
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * A redis-server of the run's own (never the shared one: it is restarted on purpose), with the AOF on and
 * fsynced on every write (`appendfsync always`), so a write Redis acknowledged survives a SIGKILL. That is
 * the promise under test: castforge must lose nothing that Redis acknowledged, not survive a Redis that
 * loses acknowledged writes (`everysec` may lose up to a second of them, notes/bullmq.md §2.1).
 */
export async function startOwnRedis(options: { port: number; dir: string }): Promise<OwnRedis> {
  mkdirSync(options.dir, { recursive: true });
  const url = `redis://127.0.0.1:${options.port}`;
  if (await answers(url)) {
    throw new Error(
      `a Redis already answers on port ${options.port}; stop it or pick another with --redis-port`,
    );
  }
  const args = [
    '--port',
    String(options.port),
    '--bind',
    '127.0.0.1',
    '--dir',
    options.dir,
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--save',
    '',
    '--maxmemory-policy',
    'noeviction',
    '--daemonize',
    'no',
  ];
  let child: ChildProcess;
  const launch = async () => {
    child = spawn('redis-server', args, { stdio: 'ignore' });
    const spawned = child;
    await until(async () => spawned.exitCode === null && (await answers(url, spawned.pid ?? -1)), {
      timeoutMs: 20_000,
      intervalMs: 50,
      what: `redis-server on port ${options.port}`,
    });
  };
  const exited = (proc: ChildProcess) =>
    proc.exitCode !== null || proc.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  await launch();
  // Whatever ends this process, the server it started must not outlive it.
  const forget = reapOnExit(() => child.kill('SIGKILL'));

  return {
    url,
    port: options.port,
    async restart() {
      const started = Date.now();
      const old = child;
      old.kill('SIGKILL');
      await exited(old);
      await sleep(200);
      await launch();
      return { downMs: Date.now() - started };
    },
    async stop() {
      forget();
      const current = child;
      if (current.exitCode !== null || current.signalCode !== null) return;
      current.kill('SIGTERM');
      const timer = setTimeout(() => current.kill('SIGKILL'), 5000);
      await exited(current);
      clearTimeout(timer);
    },
  };
}
