import { type AppProcess } from './processes';

export interface Supervised {
  /** The process running now (replaced on every restart). */
  current(): AppProcess;
  /** Restarts so far. */
  restarts(): number;
  /** No more restarts; stops the running process (SIGTERM, then SIGKILL after `graceMs`). */
  stop(stopProcess: (app: AppProcess) => Promise<void>): Promise<void>;
}

export interface BackOff {
  /** Delay before the first restart; it doubles with each exit in a row, up to maxMs. */
  initialMs: number;
  maxMs: number;
  /** A process that stayed up this long starts the next series from initialMs again. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackOff = { initialMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 };

/**
 * Keeps one app running: when it exits on its own (a crash, an OOM kill, a SIGKILL), it is started again
 * after a delay that doubles while it keeps dying (1 s, 2 s, 4 s … 30 s), so a worker that cannot start
 * (a bad GPU URL, say) does not spin. The rest of the stack keeps running meanwhile.
 */
export function supervise(
  start: () => AppProcess,
  say: (line: string) => void,
  backOff: BackOff = DEFAULT_BACKOFF,
): Supervised {
  let app = start();
  let startedAt = Date.now();
  let delay = backOff.initialMs;
  let restarts = 0;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;

  const watch = (watched: AppProcess) => {
    void watched.exited.then((code) => {
      if (stopping) return;
      if (Date.now() - startedAt >= backOff.resetAfterMs) delay = backOff.initialMs;
      const wait = delay >= 1000 ? `${delay / 1000} s` : `${delay} ms`;
      say(`${watched.name} exited with code ${code}; starting it again in ${wait}`);
      timer = setTimeout(() => {
        if (stopping) return;
        app = start();
        startedAt = Date.now();
        restarts += 1;
        watch(app);
      }, delay);
      delay = Math.min(delay * 2, backOff.maxMs);
    });
  };
  watch(app);

  return {
    current: () => app,
    restarts: () => restarts,
    async stop(stopProcess) {
      stopping = true;
      if (timer) clearTimeout(timer);
      await stopProcess(app);
    },
  };
}
