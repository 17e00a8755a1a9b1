import { type ChildProcess, spawn } from 'node:child_process';
import { open, readFile, readdir, readlink } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';

export interface MemoryUsage {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** VmRSS of a process, bytes, from /proc/<pid>/status. */
export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]) * 1024;
}

/**
 * TCP connections a process holds to `port` on loopback: its socket inodes (/proc/<pid>/fd) matched
 * against the established connections in /proc/net/tcp. Exact for one process, whoever else uses Redis.
 */
export async function connectionsTo(pid: number, port: number): Promise<number> {
  const fdDir = `/proc/${pid}/fd`;
  const inodes = new Set<string>();
  for (const fd of await readdir(fdDir)) {
    const target = await readlink(path.join(fdDir, fd)).catch(() => '');
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match) inodes.add(match[1]!);
  }
  const wanted = port.toString(16).toUpperCase().padStart(4, '0');
  let count = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // cols: sl local rem st tx:rx tr:when retrnsmt uid timeout inode
      if (cols.length < 10 || cols[3] !== '01') continue;
      if (cols[2]!.split(':')[1] === wanted && inodes.has(cols[9]!)) count++;
    }
  }
  return count;
}

async function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(1000, () => req.destroy());
  });
}

export interface WorkerProcess {
  pid: number;
  /** Freezes the process (SIGSTOP): it takes no job while a backlog is submitted. */
  pause(): void;
  resume(): void;
  /** Full GC in the worker (SIGUSR2 → the preloaded gc-hook), then its memoryUsage(). */
  collect(): Promise<MemoryUsage>;
  stop(): Promise<void>;
}

/**
 * Spawns a production worker (`node --expose-gc -r gc-hook.js <entry>`) with `env`, its stdout and stderr
 * into `logFile`, and waits until its /readyz answers 200.
 */
export async function spawnWorker(
  entry: string,
  env: Record<string, string>,
  readyUrl: string,
  logFile: string,
): Promise<WorkerProcess> {
  const log = await open(logFile, 'a');
  const child: ChildProcess = spawn(
    process.execPath,
    ['--expose-gc', '-r', path.join(__dirname, 'gc-hook.js'), entry],
    { env: { ...process.env, ...env }, stdio: ['ignore', log.fd, 'pipe'] },
  );
  const memoryReports: ((usage: MemoryUsage) => void)[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    if (line.startsWith('BENCH_MEMORY ')) memoryReports.shift()?.(JSON.parse(line.slice(13)) as MemoryUsage);
    else void log.write(`${line}\n`);
  });
  const until = Date.now() + 60_000;
  while (!(await httpOk(readyUrl))) {
    if (child.exitCode !== null) throw new Error(`the worker exited (${child.exitCode}); see ${logFile}`);
    if (Date.now() > until) throw new Error(`the worker was not ready within 60 s; see ${logFile}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  let stopped: Promise<void> | undefined;
  return {
    pid: child.pid!,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    collect: () =>
      new Promise<MemoryUsage>((resolve) => {
        memoryReports.push(resolve);
        child.kill('SIGUSR2');
      }),
    stop: () =>
      (stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGCONT');
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
          await exited;
          clearTimeout(timer);
        }
        await log.close();
      })()),
  };
}

/** What the worker logged (LOG_LEVEL=warn: warnings and errors only), by message, most frequent first. */
export interface LogSummary {
  lines: number;
  top: { text: string; count: number }[];
}

export async function summarizeLog(logFile: string): Promise<LogSummary> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  const counts = new Map<string, number>();
  let lines = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    lines++;
    let key = line.slice(0, 120);
    try {
      const entry = JSON.parse(line) as { msg?: string; err?: string };
      key = [entry.msg, entry.err].filter(Boolean).join(': ');
    } catch {
      // not a pino line (e.g. a crash trace): counted as it is
    }
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const top = [...counts.entries()]
    .sort(([, a], [, b]) => b - a)
    .slice(0, 3)
    .map(([text, count]) => ({ text, count }));
  return { lines, top };
}
