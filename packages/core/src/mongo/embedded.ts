import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';

const BINARY_PACKAGE = '@jongodb/memory-server-bin-linux-x64-gnu';

export class EmbeddedMongoUnavailableError extends Error {
  override name = 'EmbeddedMongoUnavailableError';
}

export interface EmbeddedMongo {
  /** A connection string without a database name; pick one with `dbName`. */
  uri: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Finds the embedded server binary, or explains why it is not here and what to do instead. */
export function resolveEmbeddedMongoBinary(): string {
  let packageJson: string;
  try {
    packageJson = require.resolve(`${BINARY_PACKAGE}/package.json`);
  } catch {
    throw new EmbeddedMongoUnavailableError(
      `The embedded MongoDB (${BINARY_PACKAGE}) is not installed: it exists only for linux-x64 with glibc. ` +
        'Set MONGODB_URI to a MongoDB server instead (for example `docker compose up -d mongo` and ' +
        'MONGODB_URI=mongodb://127.0.0.1:27017/castforge).',
    );
  }
  return path.join(path.dirname(packageJson), 'bin', 'jongodb');
}

/**
 * Starts the embedded, in-memory, MongoDB-wire-compatible server used when MONGODB_URI is unset and by
 * the tests. It keeps nothing on disk: data lives as long as the process. Port 0 picks a free port.
 */
export async function startEmbeddedMongo(
  options: { port?: number; timeoutMs?: number } = {},
): Promise<EmbeddedMongo> {
  const binary = resolveEmbeddedMongoBinary();
  const port = options.port ?? 0;
  const child = spawn(binary, ['--host=127.0.0.1', `--port=${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));

  const uri = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `embedded MongoDB did not start within ${options.timeoutMs ?? 20_000} ms: ${stderr.join('')}`,
        ),
      );
    }, options.timeoutMs ?? 20_000);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const match = /^JONGODB_URI=(\S+)/.exec(line.trim());
      if (match?.[1]) {
        clearTimeout(timer);
        lines.close();
        resolve(match[1]);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(
          `embedded MongoDB exited early (code ${code}, signal ${signal}): ${stderr.join('').trim()}`,
        ),
      );
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  // Keep draining stdout so the child never blocks on a full pipe.
  child.stdout?.resume();
  const parsed = new URL(uri);
  const base = `mongodb://${parsed.host}`;
  return {
    uri: base,
    port: Number(parsed.port),
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
