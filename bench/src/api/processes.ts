import { type ChildProcess, fork } from 'node:child_process';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { type LoadRequest, type LoadResult, type LoadTarget } from './load';
import { type ServerReport, type ServerSettings } from './server-settings';

/** Waits for the next IPC message of a kind, or rejects when the process exits first. */
function nextMessage<T extends { type: string }>(child: ChildProcess, type: T['type']): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: T) => {
      if (message.type !== type) return;
      cleanup();
      resolve(message);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`${path.basename(child.spawnfile)} exited (${code}) before answering ${type}`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  if (child.connected) child.send({ type: 'stop' });
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export interface ServerProcess {
  baseUrl: string;
  apiKey: string | null;
  pid: number;
  /** process.cpuUsage() of the server process, microseconds. */
  cpu(): Promise<NodeJS.CpuUsage>;
  stop(): Promise<void>;
}

/**
 * Forks dist/api/server.js for one side; its stdout (the API's pino log) goes to `logFile`. With
 * `cpuProfileDir`, the process runs under `node --cpu-prof` and leaves its profile there when it stops.
 */
export async function startServerProcess(
  settings: ServerSettings,
  logFile: string,
  cpuProfileDir?: string,
): Promise<ServerProcess> {
  const log = await open(logFile, 'a');
  const child = fork(path.join(__dirname, 'server.js'), [JSON.stringify(settings)], {
    stdio: ['ignore', log.fd, 'inherit', 'ipc'],
    execArgv: [
      ...process.execArgv,
      ...(cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(cpuProfileDir)}`] : []),
    ],
  });
  try {
    const ready = await nextMessage<Extract<ServerReport, { type: 'ready' }>>(child, 'ready');
    return {
      baseUrl: `http://127.0.0.1:${ready.port}`,
      apiKey: ready.apiKey,
      pid: child.pid!,
      async cpu() {
        const reply = nextMessage<Extract<ServerReport, { type: 'cpu' }>>(child, 'cpu');
        child.send({ type: 'cpu' });
        return (await reply).usage;
      },
      async stop() {
        await stopChild(child);
        await log.close();
      },
    };
  } catch (err) {
    await log.close();
    throw err;
  }
}

export interface LoadProcess {
  run(target: LoadTarget, connections: number, durationSeconds: number): Promise<LoadResult>;
  stop(): Promise<void>;
}

/** Forks dist/api/load.js, the autocannon process, kept for the whole run. */
export function startLoadProcess(): LoadProcess {
  const child = fork(path.join(__dirname, 'load.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let ids = 0;
  return {
    async run(target, connections, durationSeconds) {
      const id = ++ids;
      const reply = nextMessage<{ type: 'result'; id: number; result?: LoadResult; error?: string }>(
        child,
        'result',
      );
      child.send({ type: 'run', id, target, connections, durationSeconds } satisfies LoadRequest);
      const answer = await reply;
      if (answer.error || !answer.result) throw new Error(`autocannon failed: ${answer.error}`);
      return answer.result;
    },
    stop: () => stopChild(child),
  };
}
