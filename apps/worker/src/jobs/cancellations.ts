import { type Logger } from '@castforge/core';
import { type Redis } from 'ioredis';
import { JobCancelledError } from '../inference/inference-backend';

/**
 * The jobs this process holds, each with an AbortController. A cancel published by the API aborts the
 * matching controller: a job waiting for a GPU slot leaves the line, a running one is interrupted at
 * its backend.
 */
export function createCancellations(subscriber: Redis, channel: string, logger: Logger) {
  const held = new Map<string, AbortController>();
  const onMessage = (from: string, jobId: string) => {
    if (from !== channel) return;
    const controller = held.get(jobId);
    if (controller && !controller.signal.aborted) {
      logger.info({ job_id: jobId }, 'cancel received; interrupting');
      controller.abort(new JobCancelledError('the job was cancelled'));
    }
  };
  return {
    async start() {
      subscriber.on('message', onMessage);
      await subscriber.subscribe(channel);
    },
    register(jobId: string): AbortController {
      const controller = new AbortController();
      held.set(jobId, controller);
      return controller;
    },
    unregister(jobId: string) {
      held.delete(jobId);
    },
    async stop() {
      subscriber.off('message', onMessage);
      await subscriber.unsubscribe(channel).catch(() => undefined);
    },
  };
}
export type Cancellations = ReturnType<typeof createCancellations>;
