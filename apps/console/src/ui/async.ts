import { ApiError } from '@castforge/client';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

/** A message for a person: the API's own message when it sent one. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401) return 'The API key was refused (401). Sign out and enter a valid key.';
    return error.body?.message
      ? `${error.body.message} (${error.status})`
      : `The API answered ${error.status}.`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` on mount and whenever `deps` change; a stale answer never overwrites a newer one. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    load(controller.signal).then(
      (data) => !controller.signal.aborted && setState({ data, error: undefined, loading: false }),
      (error: unknown) => !controller.signal.aborted && setState((s) => ({ ...s, error, loading: false })),
    );
    return () => controller.abort();
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/**
 * Calls `tick` now and then every `intervalMs` while `active`, one call at a time (a slow answer delays the
 * next poll rather than stacking requests).
 */
export function usePoll(tick: (signal: AbortSignal) => Promise<void>, intervalMs: number, active: boolean) {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    if (!active) return undefined;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        await latest.current(controller.signal);
      } catch {
        // A failed poll is shown by the caller's own state; the next poll tries again.
      }
      if (!controller.signal.aborted) timer = setTimeout(() => void run(), intervalMs);
    };
    void run();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [intervalMs, active]);
}
