import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { InferenceError, abortError } from '../inference-backend';
import { type ComfySocket } from './comfyui-socket';
import { type PromptControl } from './prompt-control';
import { type Outcome, type PromptWatch, type WatchState, watchPrompt } from './prompt-watch';

export interface RunSettings {
  /** Ping interval; a ping unanswered by the next one counts as a dropped socket. */
  heartbeatMs: number;
  /** How long a dropped socket may take to come back before the job fails MODEL_UNAVAILABLE. */
  reconnectWindowMs: number;
  /** How long a cancel waits for the server to confirm the interrupt before the job ends anyway. */
  cancelSettleMs: number;
  socketTimeoutMs: number;
  /** How often the server is asked where the prompt is while the socket is quiet (see follow). */
  pollIntervalMs: number;
}

/**
 * Follows the socket until the prompt ends, the socket closes, or the job is aborted (rejects with the abort's
 * error). Every `pollIntervalMs` it also asks the server where the prompt is: a socket can stay open yet
 * deaf (ComfyUI drops a client id whose previous socket closed late, and a proxy may swallow frames). A
 * prompt the server has finished, or lost, while the socket said nothing gets `cancelSettleMs` for frames
 * still in flight; then the socket counts as dropped, and the caller reconnects and asks again.
 */
export async function follow(deps: {
  watch: PromptWatch;
  state: WatchState;
  control: PromptControl;
  settings: RunSettings;
  signal: AbortSignal;
}): Promise<Outcome> {
  const { watch, state, control, settings, signal } = deps;
  if (signal.aborted) {
    watch.stop();
    throw abortError(signal);
  }
  const stopWaiting = new AbortController();
  const aborted = once(signal, 'abort', { signal: stopWaiting.signal }).then(() => {
    throw abortError(signal);
  });
  aborted.catch(() => undefined);
  const tick = () => sleep(settings.pollIntervalMs, 'tick' as const, { signal: stopWaiting.signal });
  try {
    for (;;) {
      const next = await Promise.race([watch.outcome, aborted, tick()]);
      if (next !== 'tick') return next;
      const where = await control.locate(state.promptId).catch(() => undefined);
      if (!where || where.kind === 'pending' || where.kind === 'running') continue;
      const late = await Promise.race([
        watch.outcome,
        aborted,
        sleep(settings.cancelSettleMs, undefined, { signal: stopWaiting.signal }),
      ]);
      return late ?? { kind: 'dropped' };
    }
  } finally {
    stopWaiting.abort();
    watch.stop();
  }
}

/**
 * The job leaves while its prompt may still be on the server: take it off, and when it was running wait
 * (briefly) for the interrupt to land, so the GPU is free before the endpoint gets its next job. Answers
 * whether an interrupt was sent: the interrupted run then gets a history entry to delete.
 */
export async function leave(
  control: PromptControl,
  socket: ComfySocket,
  state: WatchState,
  settings: RunSettings,
): Promise<boolean> {
  const watch = watchPrompt(socket, state, () => undefined);
  watch.confirm();
  const interrupted = await control.cancel(state.promptId, state.started === true);
  const settled = new AbortController();
  if (interrupted)
    await Promise.race([
      watch.outcome,
      sleep(settings.cancelSettleMs, undefined, { signal: settled.signal }),
    ]);
  settled.abort();
  watch.stop();
  return interrupted;
}

export async function reconnect(
  connect: () => Promise<ComfySocket>,
  windowMs: number,
  signal: AbortSignal,
  host: string,
): Promise<ComfySocket> {
  const deadline = Date.now() + windowMs;
  let delay = 100;
  let last: unknown;
  while (Date.now() < deadline) {
    if (signal.aborted) throw abortError(signal);
    try {
      return await connect();
    } catch (err) {
      last = err;
    }
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), undefined, { signal }).catch(
      () => undefined,
    );
    delay = Math.min(delay * 2, 1000);
  }
  if (signal.aborted) throw abortError(signal);
  throw new InferenceError(
    'MODEL_UNAVAILABLE',
    `lost the websocket to comfyui at ${host} and could not reconnect within ${windowMs} ms`,
    { cause: last },
  );
}
