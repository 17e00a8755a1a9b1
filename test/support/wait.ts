import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `check` until it returns something other than `undefined`, `null` or `false`, and returns that.
 * Stories wait on conditions with a deadline instead of sleeping for a guessed time (STYLE: no fake timers).
 * On timeout it throws, naming what was awaited and the last value seen (or the last error thrown).
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 25, what = 'the condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const seen = last instanceof Error ? `${last.name}: ${last.message}` : JSON.stringify(last);
      throw new Error(`waited ${timeoutMs} ms for ${what}; last seen: ${seen}`);
    }
    await sleep(intervalMs);
  }
}
