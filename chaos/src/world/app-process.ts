import { reapOnExit } from '../support/reaper';
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';

/** The repository root (chaos/dist/world → ../../..), where the apps' dist folders live. */
export const repoRoot = path.resolve(__dirname, '../../..');

export type AppKind = 'api' | 'worker';

export interface AppProcess {
  name: string;
  kind: AppKind;
  /** The running child, replaced on every restart. */
  readonly child: ChildProcess;
  readonly alive: boolean;
  /** Exits seen that nobody asked for (a crash, not a kill of ours): each with its code or signal. */
  readonly crashes: string[];
  restarts: number;
  /** When the current child exited (ms since epoch), or null while it runs. */
  readonly diedAt: number | null;
  kill(signal: NodeJS.Signals): Promise<void>;
  start(): void;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => child.once('exit', () => resolve()));

/**
 * An API or worker process started from apps/<kind>/dist, as an operator would run it: its own environment,
 * its output appended to `<logDir>/<name>.log` across restarts (the run's evidence when an invariant fails).
 */
export function appProcess(options: {
  name: string;
  kind: AppKind;
  env: Record<string, string>;
  logDir: string;
}): AppProcess {
  const script = path.join(repoRoot, 'apps', options.kind, 'dist', 'index.js');
  const log: WriteStream = createWriteStream(path.join(options.logDir, `${options.name}.log`), {
    flags: 'a',
  });
  const crashes: string[] = [];
  let child!: ChildProcess;
  let expected = false;
  let diedAt: number | null = null;

  const start = () => {
    expected = false;
    diedAt = null;
    child = spawn(process.execPath, [script], {
      env: { PATH: process.env.PATH ?? '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.once('exit', (code, signal) => {
      diedAt = Date.now();
      if (!expected) crashes.push(signal ?? `exit ${code}`);
    });
  };
  start();
  reapOnExit(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  return {
    name: options.name,
    kind: options.kind,
    get child() {
      return child;
    },
    get alive() {
      return child.exitCode === null && child.signalCode === null;
    },
    crashes,
    restarts: 0,
    get diedAt() {
      return diedAt;
    },
    async kill(signal) {
      expected = true;
      const current = child;
      current.kill(signal);
      await exited(current);
    },
    start() {
      this.restarts += 1;
      start();
    },
    async stop(graceMs = 10_000) {
      if (!this.alive) return;
      expected = true;
      const current = child;
      current.kill('SIGTERM');
      const timer = setTimeout(() => current.kill('SIGKILL'), graceMs);
      await exited(current);
      clearTimeout(timer);
    },
  };
}
