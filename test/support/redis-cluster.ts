import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './wait';

const run = promisify(execFile);

/** A port that is free, with its cluster bus port (port + 10000) free too. */
async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port: p } = server.address() as { port: number };
        server.close(() => resolve(p));
      });
    });
    if (port + 10000 > 65535) continue;
    const busFree = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port + 10000, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (busFree) return port;
  }
}

const cli = (port: number, ...args: string[]) =>
  run('redis-cli', ['-p', String(port), ...args]).then(({ stdout }) => stdout);

export interface RedisCluster {
  /** host:port of every node, masters first as created. */
  nodes: string[];
  /** The port of the master that holds `slot` now. */
  masterOf(slot: number): Promise<number>;
  /** Kills a node with SIGKILL (a crash, not a shutdown). */
  kill(port: number): void;
  /** Resolves once every live node sees the cluster as ok and `port`'s slots have a live master again. */
  healed(deadPort: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real Redis Cluster on this machine for one test file: `masters` masters with one replica each, on free
 * ports, nothing kept on disk, a short node timeout so a failover takes a few seconds. Stopped (and its
 * directory removed) by `stop()`.
 */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'castforge-cluster-'));
  const ports: number[] = [];
  for (let i = 0; i < masters * 2; i++) ports.push(await freePort());
  const children = new Map<number, ChildProcess>();
  for (const port of ports) {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        '1000',
        // A replica may always take over, however fresh the cluster (else it may judge its data too old).
        '--cluster-replica-validity-factor',
        '0',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
      ],
      { stdio: 'ignore' },
    );
    children.set(port, child);
  }
  for (const port of ports) {
    await waitFor(async () => (await cli(port, 'ping').catch(() => '')).trim() === 'PONG', {
      timeoutMs: 5000,
      what: `redis-server on ${port}`,
    });
  }
  await run('redis-cli', [
    '--cluster',
    'create',
    ...ports.map((p) => `127.0.0.1:${p}`),
    '--cluster-replicas',
    '1',
    '--cluster-yes',
  ]);
  const clusterOk = async (port: number) =>
    /cluster_state:ok/.test(await cli(port, 'cluster', 'info').catch(() => ''));
  await waitFor(async () => (await Promise.all(ports.map(clusterOk))).every(Boolean), {
    timeoutMs: 20_000,
    what: 'the cluster to be ok on every node',
  });
  // Replicas in sync with their masters before any test kills one.
  await waitFor(
    async () => {
      const roles = await Promise.all(ports.map((p) => cli(p, 'info', 'replication').catch(() => '')));
      return roles.filter((r) => r.includes('role:slave')).every((r) => r.includes('master_link_status:up'));
    },
    { timeoutMs: 20_000, what: 'every replica to be in sync with its master' },
  );
  const alive = () =>
    ports.filter((p) => {
      const child = children.get(p);
      return child && child.exitCode === null && child.signalCode === null && !child.killed;
    });

  /** A few slots `port` served as a master, read from a live node's view (the first of each range). */
  const slotsOf = async (port: number): Promise<number[]> => {
    for (const p of alive().filter((x) => x !== port)) {
      const lines = (await cli(p, 'cluster', 'nodes').catch(() => '')).split('\n');
      for (const line of lines) {
        const [, address, flags, , , , , , ...ranges] = line.trim().split(' ');
        if (address && Number(address.split(/[:@]/)[1]) === port && flags?.includes('master')) {
          return ranges.map((range) => Number(range.split('-')[0])).filter(Number.isFinite);
        }
      }
    }
    return [];
  };

  /** From CLUSTER NODES: `<id> <ip:port@bus> <flags> <master-id> … <slot ranges>` on each line. */
  const masterOf = async (slot: number): Promise<number> => {
    for (const port of alive()) {
      const lines = (await cli(port, 'cluster', 'nodes').catch(() => '')).split('\n');
      for (const line of lines) {
        const [, address, flags, , , , , , ...ranges] = line.trim().split(' ');
        if (!address || !flags?.includes('master') || flags.includes('fail')) continue;
        for (const range of ranges) {
          const [from, to] = range.split('-').map(Number);
          if (from !== undefined && slot >= from && slot <= (to ?? from))
            return Number(address.split(/[:@]/)[1]);
        }
      }
    }
    throw new Error(`no live node knows who holds slot ${slot}`);
  };

  return {
    nodes: ports.map((p) => `127.0.0.1:${p}`),
    masterOf,
    kill(port) {
      children.get(port)?.kill('SIGKILL');
    },
    async healed(deadPort, timeoutMs = 30_000) {
      const slotsOfDead = await slotsOf(deadPort);
      await waitFor(
        async () => {
          const live = alive().filter((p) => p !== deadPort);
          if (!(await Promise.all(live.map(clusterOk))).every(Boolean)) return false;
          for (const slot of slotsOfDead) if ((await masterOf(slot)) === deadPort) return false;
          return true;
        },
        { timeoutMs, what: 'a replica to take over and the cluster to be ok again' },
      );
    },
    async stop() {
      const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;
      await Promise.all(
        [...children.values()].map((child) => {
          if (exited(child)) return Promise.resolve();
          const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
          child.kill('SIGKILL');
          return gone;
        }),
      );
      await rm(dir, { recursive: true, force: true });
    },
  };
}
