import { type Logger } from '../logging/logger';

type Step = { name: string; run: () => Promise<unknown> };

/**
 * Runs shutdown steps in order on SIGTERM/SIGINT, once, with a hard deadline so a stuck step can never
 * keep a process alive forever. Steps are registered in start-up order and run in reverse.
 */
export function createShutdown(logger: Logger, deadlineMs: number) {
  const steps: Step[] = [];
  let running: Promise<void> | undefined;

  const run = (reason: string): Promise<void> => {
    running ??= (async () => {
      logger.info({ reason }, 'shutting down');
      const timer = setTimeout(() => {
        logger.error({ deadlineMs }, 'shutdown deadline passed; exiting');
        process.exit(1);
      }, deadlineMs);
      timer.unref();
      for (const step of [...steps].reverse()) {
        try {
          await step.run();
        } catch (err) {
          logger.warn({ step: step.name, err: (err as Error).message }, 'shutdown step failed');
        }
      }
      clearTimeout(timer);
      logger.info('stopped');
    })();
    return running;
  };

  return {
    add(name: string, stepRun: () => Promise<unknown>) {
      steps.push({ name, run: stepRun });
    },
    run,
    /** Wires SIGTERM and SIGINT to `run`, then exits with code 0. */
    listen() {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.once(signal, () => {
          void run(signal).then(() => process.exit(0));
        });
      }
    },
  };
}
export type Shutdown = ReturnType<typeof createShutdown>;
