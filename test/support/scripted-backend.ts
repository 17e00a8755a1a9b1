import {
  type InferenceBackend,
  InferenceError,
  abortError,
} from '../../apps/worker/src/inference/inference-backend';
import { createSimulatedBackend } from '../../apps/worker/src/inference/simulated';

export interface ScriptedBackend {
  backend: InferenceBackend;
  /** Job ids that reached the GPU, in order. */
  reached: string[];
  /** Job ids whose inference was aborted (cancelled or out of time) while on the GPU. */
  interrupted: string[];
  /** Lets `count` more "gate" jobs through. */
  open(count: number): void;
  /** Lets every "gate" job through from now on. */
  openAll(): void;
  /**
   * Ends every "hold" job still on the GPU as rejected by the backend (INPUT_INVALID: failed, no retry), and
   * every later one at once: a test's clean-up, so a worker it leaves behind can close.
   */
  releaseHeld(): void;
}

/**
 * A GPU at our own seam (STYLE: fakes only at our seams), driven by the start of each prompt:
 * - "hold": runs until aborted (cancelled or out of time);
 * - "gate": waits at a gate until the test lets it through (`open`), so a test can stop a campaign at an
 *   exact point;
 * - "reject": refused like a backend 4xx (INPUT_INVALID: failed at once, no retry);
 * - "flaky": fails like a backend 5xx (MODEL_ERROR: retried after a back-off, `pending` meanwhile);
 * - "slow": rendered by the simulated backend at 500 ms a step (ten seconds at its 20 default steps);
 * every other job, and a gated one once through, is rendered at once by the simulated backend.
 */
export function scriptedBackend(): ScriptedBackend {
  const fast = createSimulatedBackend({ stepMs: 1 });
  const slow = createSimulatedBackend({ stepMs: 500 });
  const reached: string[] = [];
  const interrupted: string[] = [];
  let allowance = 0;
  const waiting: (() => void)[] = [];
  const held = new Set<(err: Error) => void>();
  let released = false;
  const wake = () => {
    while (allowance > 0 && waiting.length) {
      allowance -= 1;
      waiting.shift()!();
    }
  };
  const hold = (signal: AbortSignal) =>
    new Promise<never>((_resolve, reject) => {
      const end = (err: Error) => {
        held.delete(end);
        reject(err);
      };
      if (signal.aborted) return end(abortError(signal));
      if (released) return end(new InferenceError('INPUT_INVALID', 'released by the test'));
      held.add(end);
      signal.addEventListener('abort', () => end(abortError(signal)), { once: true });
    });

  const backend: InferenceBackend = {
    name: 'scripted',
    defaults: fast.defaults,
    operations: fast.operations,
    async run(endpoint, req) {
      reached.push(req.jobId);
      req.signal.addEventListener('abort', () => interrupted.push(req.jobId), { once: true });
      if (req.prompt.startsWith('hold')) return hold(req.signal);
      if (req.prompt.startsWith('reject'))
        throw new InferenceError('INPUT_INVALID', 'the backend rejected this request');
      if (req.prompt.startsWith('flaky')) throw new InferenceError('MODEL_ERROR', 'the backend failed');
      if (req.prompt.startsWith('slow')) return slow.run(endpoint, req);
      if (req.prompt.startsWith('gate')) {
        await new Promise<void>((resolve, reject) => {
          const pass = () => {
            req.signal.removeEventListener('abort', stop);
            resolve();
          };
          const stop = () => {
            const at = waiting.indexOf(pass);
            if (at >= 0) waiting.splice(at, 1);
            reject(abortError(req.signal));
          };
          if (req.signal.aborted) return stop();
          req.signal.addEventListener('abort', stop, { once: true });
          waiting.push(pass);
          wake();
        });
      }
      return fast.run(endpoint, req);
    },
  };
  return {
    backend,
    reached,
    interrupted,
    open(count) {
      allowance += count;
      wake();
    },
    openAll() {
      allowance = Infinity;
      wake();
    },
    releaseHeld() {
      released = true;
      for (const end of [...held]) end(new InferenceError('INPUT_INVALID', 'released by the test'));
    },
  };
}
