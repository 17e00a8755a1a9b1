import net from 'node:net';
import { createInterface } from 'node:readline';
import { type Redis } from 'ioredis';

/** Parses an INFO section into name → value. */
export function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

/** Counters of the whole Redis server at one moment. */
export interface RedisCounters {
  /** used_cpu_sys + used_cpu_user, seconds (the whole redis-server process). */
  cpuSeconds: number;
  /** INFO commandstats calls by command (commands run inside scripts count too). */
  calls: Record<string, number>;
  /** total_reads_processed: read events, so a pipeline that arrives at once counts as one. */
  reads: number;
}

export async function readCounters(redis: Redis): Promise<RedisCounters> {
  const [cpu, commandstats, stats] = await Promise.all([
    redis.info('cpu'),
    redis.info('commandstats'),
    redis.info('stats'),
  ]);
  const cpuFields = parseInfo(cpu);
  const calls: Record<string, number> = {};
  for (const [name, value] of Object.entries(parseInfo(commandstats))) {
    const match = /calls=(\d+)/.exec(value);
    if (name.startsWith('cmdstat_') && match) calls[name.slice(8)] = Number(match[1]);
  }
  return {
    cpuSeconds: Number(cpuFields.used_cpu_sys) + Number(cpuFields.used_cpu_user),
    calls,
    reads: Number(parseInfo(stats).total_reads_processed ?? Number.NaN),
  };
}

/** The bench's own reads of the counters; left out of every per-job figure. */
const OWN_COMMANDS = new Set(['info', 'config|resetstat', 'ping']);

export interface CounterDelta {
  cpuSeconds: number;
  calls: Record<string, number>;
  totalCalls: number;
  reads: number;
}

/** after − before, per command (a CONFIG RESETSTAT in between makes `before` zero). */
export function counterDelta(before: RedisCounters, after: RedisCounters, reset: boolean): CounterDelta {
  const calls: Record<string, number> = {};
  for (const [name, value] of Object.entries(after.calls)) {
    if (OWN_COMMANDS.has(name)) continue;
    const delta = value - (reset ? 0 : (before.calls[name] ?? 0));
    if (delta > 0) calls[name] = delta;
  }
  return {
    cpuSeconds: after.cpuSeconds - before.cpuSeconds,
    calls,
    totalCalls: Object.values(calls).reduce((a, b) => a + b, 0),
    reads: after.reads - (reset ? 0 : before.reads),
  };
}

/** What clients sent (EVALSHA once) and what ran inside scripts, seen through MONITOR. */
export interface MonitorCounts {
  /** Commands as clients sent them, by name; a MULTI…EXEC block counts once, as `multi…exec`. */
  sent: Record<string, number>;
  /** Commands Lua scripts ran, by name. */
  inScripts: Record<string, number>;
  /** Σ sent: requests clients made (each one a round trip unless the client pipelined them). */
  requests: number;
}

/** A MONITOR line: `+1700000000.123456 [0 127.0.0.1:54321] "evalsha" "…"`, or `[0 lua]` inside scripts. */
const MONITOR_LINE = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]*)"/;

/**
 * A MONITOR connection whose counting is switched on and off by `count`. MONITOR slows Redis down, so this
 * is a separate, smaller pass: it attributes commands, the timed runs measure speed and CPU. A plain
 * socket, not ioredis: its monitor mode can mistake a monitored line for a reply while closing.
 */
export async function startMonitor(url: string) {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port || 6379), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  socket.write('MONITOR\r\n');
  const sent: Record<string, number> = {};
  const inScripts: Record<string, number> = {};
  const inMulti = new Set<string>();
  let counting = false;
  const add = (counts: Record<string, number>, name: string) => {
    if (counting) counts[name] = (counts[name] ?? 0) + 1;
  };
  createInterface({ input: socket, crlfDelay: Infinity }).on('line', (line) => {
    const match = MONITOR_LINE.exec(line);
    if (!match) return;
    const source = match[1]!;
    const name = match[2]!.toLowerCase();
    if (source === 'lua') {
      add(inScripts, name);
      return;
    }
    if (name === 'multi') {
      inMulti.add(source);
      return;
    }
    if (name === 'exec') {
      inMulti.delete(source);
      add(sent, 'multi…exec');
      return;
    }
    if (!inMulti.has(source)) add(sent, name);
  });
  return {
    count(on: boolean) {
      counting = on;
    },
    async stop(): Promise<MonitorCounts> {
      // MONITOR lines trail the commands they show by a little.
      await new Promise((resolve) => setTimeout(resolve, 300));
      socket.destroy();
      return { sent, inScripts, requests: Object.values(sent).reduce((a, b) => a + b, 0) };
    },
  };
}
