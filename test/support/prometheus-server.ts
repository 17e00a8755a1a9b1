import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { prometheusTool } from './promtool';
import { waitFor } from './wait';

export interface QueryAnswer {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value?: [number, string] }[] };
}

export interface PrometheusServer {
  url: string;
  /** An instant query through the HTTP API (/api/v1/query), as Grafana sends a panel's expression. */
  query(expr: string): Promise<QueryAnswer>;
  /** The number a query gives, summed over its series (0 when it gives none). */
  value(expr: string): Promise<number>;
  close(): Promise<void>;
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });

/**
 * A real Prometheus (Debian's binary) on a free loopback port, with its storage in a temporary
 * directory, scraping `targets` (job name → host:port list) and evaluating `ruleFiles` every
 * `intervalSeconds`. `close` stops it and deletes its storage.
 */
export async function startPrometheus(options: {
  targets: Record<string, string[]>;
  ruleFiles: string[];
  intervalSeconds?: number;
}): Promise<PrometheusServer> {
  const interval = `${options.intervalSeconds ?? 1}s`;
  const dir = await mkdtemp(path.join(tmpdir(), 'castforge-prometheus-'));
  const config = [
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    'rule_files:',
    ...options.ruleFiles.map((file) => `  - ${JSON.stringify(file)}`),
    'scrape_configs:',
    ...Object.entries(options.targets).flatMap(([job, hosts]) => [
      `  - job_name: ${job}`,
      '    static_configs:',
      `      - targets: ${JSON.stringify(hosts)}`,
    ]),
  ].join('\n');
  await writeFile(path.join(dir, 'prometheus.yml'), `${config}\n`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let stderr = '';
  const child: ChildProcess = spawn(
    prometheusTool('prometheus'),
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const query = async (expr: string): Promise<QueryAnswer> => {
    const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr }).toString()}`);
    return (await res.json()) as QueryAnswer;
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${stderr}`);
        return (await fetch(`${url}/-/ready`)).status === 200;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'prometheus to be ready' },
    );
  } catch (err) {
    await close();
    throw err;
  }
  return {
    url,
    query,
    async value(expr) {
      const answer = await query(expr);
      if (answer.status !== 'success') throw new Error(`${expr}: ${answer.error}`);
      return (answer.data?.result ?? []).reduce((sum, s) => sum + Number(s.value?.[1] ?? 0), 0);
    },
    close,
  };
}
