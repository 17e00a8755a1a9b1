import { ConfigError, parseEnv } from '@castforge/core';
import { z } from 'zod';

/** `--polls=500` or `--polls 500` → BENCH_POLLS=500, so a flag and its variable are one setting. */
export function flagsToEnv(argv: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const match = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(argv[i]!);
    if (!match) throw new ConfigError([`unexpected argument ${argv[i]} (flags look like --name=value)`]);
    const value = match[2] ?? argv[++i];
    if (value === undefined) throw new ConfigError([`--${match[1]} needs a value`]);
    env[`BENCH_${match[1]!.replace(/-/g, '_').toUpperCase()}`] = value;
  }
  return env;
}

const flagOf = (variable: string) => `--${variable.slice(6).toLowerCase().replace(/_/g, '-')}`;

/**
 * A bench's settings, parsed once like the apps' config: from flags, else from BENCH_* variables, else the
 * defaults the issue asks for. An unknown flag is an error, so a typo never silently runs the 1M default.
 */
export function loadOptions<S extends z.ZodObject>(
  schema: S,
  argv: string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  const flags = flagsToEnv(argv);
  const unknown = Object.keys(flags).filter((name) => !(name in schema.shape));
  if (unknown.length) {
    const known = Object.keys(schema.shape).filter((name) => name.startsWith('BENCH_'));
    throw new ConfigError([
      `unknown flag(s) ${unknown.map(flagOf).join(', ')}; this bench takes ${known.map(flagOf).join(', ')}`,
    ]);
  }
  return parseEnv(schema, { ...env, ...flags });
}

/** "1000,1000000" → [1000, 1000000]; underscores are allowed as digit separators ("1_000_000"). */
export const positiveIntList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((item) => item.trim().replace(/_/g, ''))
      .filter(Boolean)
      .map(Number),
  )
  .pipe(z.array(z.number().int().positive()).min(1));
