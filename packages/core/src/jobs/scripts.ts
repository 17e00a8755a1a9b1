import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type ChainableCommander, type Cluster, type Redis } from 'ioredis';

/**
 * The Lua scripts that move a job's status record (BullMQ keeps its own in `src/commands/*.lua`; ours live in
 * `lua/*.lua`, with the helpers every one of them shares in `lua/include/common.lua`). Each runs atomically,
 * so a status only moves forward (SPEC §4) and everything a transition causes is recorded with it (§13).
 * Each declares every key it touches; the callers build them with keys.ts, all in one bucket (hash slot).
 */
export const SCRIPT_FILES = {
  jobCreate: 'create.lua',
  jobStart: 'start.lua',
  jobProgress: 'progress.lua',
  jobRetry: 'retry.lua',
  jobFinish: 'finish.lua',
  jobRead: 'read.lua',
  lanePick: 'pick.lua',
  laneCheck: 'lane-check.lua',
  campaignCreate: 'campaign-create.lua',
  campaignEnqueued: 'campaign-enqueued.lua',
  campaignTakeover: 'campaign-takeover.lua',
  campaignCancel: 'campaign-cancel.lua',
} as const;
export type ScriptName = keyof typeof SCRIPT_FILES;

const LUA_DIR = path.join(__dirname, 'lua');
let sources: Record<ScriptName, string> | undefined;

/** The scripts' text, read once per process (the files ship next to the compiled code). */
function scriptSources(): Record<ScriptName, string> {
  if (!sources) {
    const common = readFileSync(path.join(LUA_DIR, 'include', 'common.lua'), 'utf8');
    sources = Object.fromEntries(
      Object.entries(SCRIPT_FILES).map(([name, file]) => [
        name,
        `${common}\n${readFileSync(path.join(LUA_DIR, file), 'utf8')}`,
      ]),
    ) as Record<ScriptName, string>;
  }
  return sources;
}

type Arg = string | number;
type Client = Redis | Cluster;
type Target = Client | ChainableCommander;

/** Runs a script by SHA (ioredis loads it again after a Redis restart); keys first, then arguments. */
export type ScriptRunner = (
  name: ScriptName,
  keys: readonly string[],
  args: readonly Arg[],
) => Promise<unknown>;

/** Registers every script on a client (once), so it and its pipelines can run them. */
export function defineScripts(client: Client, only?: readonly ScriptName[]): void {
  const target = client as unknown as Record<string, unknown>;
  for (const [name, lua] of Object.entries(scriptSources())) {
    if (only && !only.includes(name as ScriptName)) continue;
    if (!target[name]) client.defineCommand(name, { lua });
  }
}

/** Queues or runs a script on a client, pipeline or MULTI whose client had `defineScripts` run on it. */
export function callScript(
  target: Target,
  name: ScriptName,
  keys: readonly string[],
  args: readonly Arg[],
): Promise<unknown> {
  const fn = (target as unknown as Record<string, (...a: Arg[]) => Promise<unknown>>)[name];
  if (!fn) throw new Error(`script ${name} is not defined on this client; call defineScripts first`);
  return fn.call(target, keys.length, ...keys, ...args);
}

export function scriptRunner(client: Client): ScriptRunner {
  defineScripts(client);
  return (name, keys, args) => callScript(client, name, keys, args);
}
