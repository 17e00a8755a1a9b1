#!/usr/bin/env node
// `npm run test:cluster`: the story suite against a real Redis Cluster (3 masters, 3 replicas) started here on
// free ports and stopped after, whatever the outcome. Every process the stories start gets the cluster through
// REDIS_CLUSTER_NODES, as a deployment on a cluster would.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const say = (line) => process.stdout.write(`[cluster] ${line}\n`);

const listen = (port) =>
  new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(null));
    server.listen(port, '127.0.0.1', () => {
      const { port: p } = server.address();
      server.close(() => resolve(p));
    });
  });
/** A free port whose cluster bus port (+10000) is free too. */
async function freePort() {
  for (;;) {
    const port = await listen(0);
    if (port && port + 10000 <= 65535 && (await listen(port + 10000))) return port;
  }
}
const cli = (port, ...args) => run('redis-cli', ['-p', String(port), ...args]).then((r) => r.stdout);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dir = await mkdtemp(path.join(tmpdir(), 'castforge-cluster-lane-'));
const ports = [];
for (let i = 0; i < 6; i++) ports.push(await freePort());
const servers = ports.map((port) =>
  spawn(
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
      '2000',
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
  ),
);
const stop = async () => {
  for (const server of servers)
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
};
process.once('SIGINT', () => void stop().then(() => process.exit(130)));

let code = 1;
try {
  for (const port of ports) {
    for (let i = 0; (await cli(port, 'ping').catch(() => '')).trim() !== 'PONG'; i++) {
      if (i > 100) throw new Error(`redis-server on ${port} did not start`);
      await sleep(50);
    }
  }
  await run('redis-cli', [
    '--cluster',
    'create',
    ...ports.map((p) => `127.0.0.1:${p}`),
    '--cluster-replicas',
    '1',
    '--cluster-yes',
  ]);
  for (let i = 0; ; i++) {
    const infos = await Promise.all(ports.map((p) => cli(p, 'cluster', 'info').catch(() => '')));
    if (infos.every((info) => info.includes('cluster_state:ok'))) break;
    if (i > 200) throw new Error('the cluster did not become ok');
    await sleep(100);
  }
  const nodes = ports.map((p) => `127.0.0.1:${p}`).join(',');
  say(`3 masters and 3 replicas on ${nodes}; running the stories against them`);
  const jest = spawn(
    process.execPath,
    [path.resolve('node_modules/jest/bin/jest.js'), '--selectProjects', 'stories', ...process.argv.slice(2)],
    { stdio: 'inherit', env: { ...process.env, REDIS_CLUSTER_NODES: nodes, REDIS_WAIT_REPLICAS: '1' } },
  );
  code = await new Promise((resolve) => jest.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
} catch (err) {
  say(err instanceof Error ? err.message : String(err));
} finally {
  await stop();
}
process.exit(code);
