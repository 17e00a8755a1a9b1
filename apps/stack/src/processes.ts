import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { createInterface } from 'node:readline';
import pretty from 'pino-pretty';

export interface AppProcess {
  name: string;
  child: ChildProcess;
  exited: Promise<number>;
}

/**
 * Starts one of the apps as its own process group, so Ctrl-C reaches only this launcher, which then
 * stops everything in order (API, worker, then MongoDB and Redis).
 */
export function startApp(
  name: string,
  script: string,
  env: NodeJS.ProcessEnv,
  format: 'pretty' | 'json',
): AppProcess {
  const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  if (format === 'pretty') {
    child.stdout.pipe(
      pretty({ colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', destination: 1 }),
    );
  } else {
    child.stdout.pipe(process.stdout);
  }
  createInterface({ input: child.stderr }).on('line', (line) => process.stderr.write(`[${name}] ${line}\n`));
  // A signal reads as the shell shows it: 128 + its number (137 for SIGKILL).
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + constants.signals[signal] : 1))),
  );
  return { name, child, exited };
}

/** SIGTERM, then SIGKILL after `graceMs`: nothing the launcher started outlives it. */
export async function stopProcess(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
