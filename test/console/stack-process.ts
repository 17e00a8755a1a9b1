import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '../support/wait';

const ROOT = path.resolve(__dirname, '../..');

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface StackProcess {
  baseUrl: string;
  demoKey: string;
  /** Issues a key for another tenant with the admin command, as an operator would. */
  keyFor(tenant: string): Promise<string>;
  logs(): string;
  stop(): Promise<void>;
}

/**
 * `node apps/stack/dist/index.js` — what `npm start` runs after building — on a free port, with its own
 * data directory, Redis prefix and MongoDB database, and the demo key it prints for the tenant `demo`.
 */
export async function startStack(env: Record<string, string>): Promise<StackProcess> {
  const port = await freePort();
  const dataDir = env.DATA_DIR!;
  const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, 'apps/stack/dist/index.js')], {
    cwd: ROOT,
    env: { ...process.env, API_KEYS: '', PORT: String(port), LOG_FORMAT: 'json', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const baseUrl = `http://localhost:${port}`;
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`the stack exited with ${child.exitCode}:\n${output}`);
        const res = await fetch(`${baseUrl}/readyz`).catch(() => null);
        return res?.ok === true;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'the stack to answer /readyz' },
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const demoKey = (await readFile(path.join(dataDir, 'demo-api-key'), 'utf8')).trim();
  return {
    baseUrl,
    demoKey,
    async keyFor(tenant) {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [path.join(ROOT, 'apps/api/dist/keys-cli.js'), 'create', '--tenant', tenant, '--json'],
        { cwd: ROOT, env: { ...process.env, ...env } },
      );
      return (JSON.parse(stdout) as { api_key: string }).api_key;
    },
    logs: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
