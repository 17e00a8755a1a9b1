import { type Redis } from 'ioredis';
import { SCRIPTS } from './scripts';

type ScriptName = keyof typeof SCRIPTS;
export type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

/** Registers the scripts on a client once; ioredis then runs them by SHA and reloads them after a restart. */
export function scriptsOf(redis: Redis): Record<ScriptName, ScriptFn> {
  const target = redis as unknown as Record<string, ScriptFn | undefined>;
  for (const [name, script] of Object.entries(SCRIPTS)) {
    if (!target[name]) redis.defineCommand(name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
  }
  return target as Record<ScriptName, ScriptFn>;
}
