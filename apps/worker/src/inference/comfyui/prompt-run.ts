import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Logger } from '@castforge/core';
import { InferenceError, abortError } from '../inference-backend';
import { executionFailed } from './comfyui-errors';
import { type ComfyHttp } from './comfyui-http';
import { type ComfySocket, connectSocket } from './comfyui-socket';
import { type PromptControl } from './prompt-control';
import { type Outcome, type PromptWatch, type WatchState, watchPrompt } from './prompt-watch';
import { type ApiWorkflow, type WorkflowTemplate } from './workflow-template';

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
 * An input ComfyUI ignores (it is not in the node's schema) but folds into the node's cache key. ComfyUI
 * skips an output node whose inputs match the previous run's, and ETN_SendImageWebSocket has no IS_CHANGED,
 * so a job repeating the last one (a fixed-seed profile, a re-run) would get no image without a fresh value.
 */
export const CACHE_KEY_INPUT = 'castforge_run';

/**
 * A run is re-submitted once when its image was lost: the output node sent it while the socket was down, or
 * the server restarted and forgot the prompt. The image exists only on the socket (nothing is saved on the
 * GPU box), and the seed is pinned, so running again is how to get it back; a second loss fails the attempt
 * (MODEL_ERROR, retried by the worker).
 */
const MAX_RUNS = 2;
/** Ids whose history entries are still to delete, per endpoint: a server down for long must not grow it. */
const MAX_LEFTOVERS = 100;

interface Job {
  template: WorkflowTemplate;
  prompt: ApiWorkflow;
  promptId: string;
  clientId: string;
  signal: AbortSignal;
  onProgress(fraction: number): void;
}

/**
 * Runs one prompt to its image: socket first (so no message is missed), then submit, then follow the socket;
 * a dropped socket is reconnected under the same client id and the server asked where the prompt is. Ends
 * with the prompt off the server: its history entry deleted, and, if the job is leaving early (abort,
 * failure), taken out of the queue or interrupted.
 */
export async function runPrompt(
  deps: {
    http: ComfyHttp;
    control: PromptControl;
    settings: RunSettings;
    log: Logger;
    leftovers: Set<string>;
  },
  job: Job,
): Promise<{ bytes: Buffer; mimeType: string }> {
  const { http, control, settings, log, leftovers } = deps;
  const { signal } = job;
  // Messages name nodes as submitted: LoRA copies included, with their titles.
  const template: WorkflowTemplate = { ...job.template, nodes: job.prompt };
  if (signal.aborted) throw abortError(signal);
  const state: WatchState = { promptId: job.promptId, outputNodeId: template.outputNodeId, progress: 0 };
  const connect = () =>
    connectSocket({
      url: http.socketUrl(job.clientId),
      headers: http.headers,
      host: http.host,
      timeoutMs: settings.socketTimeoutMs,
      heartbeatMs: settings.heartbeatMs,
    });
  let socket: ComfySocket = await connect();
  /** Our prompt may be queued or running on the server: leaving early must take it off. */
  let onServer = false;
  /**
   * A run finished (or was interrupted) and its history entry is not deleted yet. ComfyUI files it just
   * after telling us, so deleting it means waiting for it to appear.
   */
  let recorded = false;
  const clearHistory = async () => {
    const gone = recorded
      ? await control.forgetOnceRecorded(state.promptId, settings.cancelSettleMs)
      : await control.forget([state.promptId]);
    recorded = false;
    if (!gone) leftovers.add(state.promptId);
  };
  let runs = 0;
  try {
    // A previous attempt of this job (same prompt id) may still be queued or running here, e.g. after its
    // worker died: follow that run instead of queueing a second one. A finished one never gave us its image.
    const before = await control.locate(state.promptId).catch((err: unknown) => {
      log.warn(
        { err },
        'comfyui history or queue unreadable; submitting without checking for an earlier attempt',
      );
      return { kind: 'absent' as const };
    });
    let adopt = before.kind === 'pending' || before.kind === 'running';
    if (before.kind === 'finished') await control.forget([state.promptId]);
    let dropped = false;

    for (;;) {
      const watch = watchPrompt(socket, state, (fraction) => job.onProgress(fraction), { held: true });
      if (adopt) {
        log.info({ prompt_id: state.promptId }, 'comfyui already has this job’s prompt; following it');
      } else {
        if (runs >= MAX_RUNS) {
          watch.stop();
          throw new InferenceError(
            'MODEL_ERROR',
            `comfyui at ${http.host} ran ${template.file} but its image was lost twice (websocket dropped or server restarted)`,
          );
        }
        runs += 1;
        state.image = undefined;
        state.unattributed = undefined;
        state.currentNode = undefined;
        state.started = false;
        dropped = false;
        onServer = true;
        try {
          state.promptId = await control.submit(
            template,
            withRunKey(job.prompt, template.outputNodeId),
            state.promptId,
            job.clientId,
          );
        } catch (err) {
          watch.stop();
          throw err;
        }
      }
      watch.confirm();
      onServer = true;
      adopt = false;

      let ended: Outcome | { kind: 'pending' | 'running' | 'absent' } = await follow({
        watch,
        state,
        control,
        settings,
        signal,
      });
      if (ended.kind === 'dropped') {
        dropped = true;
        log.warn({ prompt_id: state.promptId }, 'comfyui websocket dropped or went silent; reconnecting');
        await socket.close();
        socket = await reconnect(connect, settings.reconnectWindowMs, signal, http.host);
        // Unknown whereabouts (history or queue unreadable): keep following the new socket, which polls.
        const where = await control.locate(state.promptId).catch(() => ({ kind: 'running' as const }));
        ended = where.kind === 'finished' ? finishedOutcome(where) : where;
      }
      if (ended.kind === 'success' || ended.kind === 'error' || ended.kind === 'interrupted') recorded = true;
      if (ended.kind !== 'pending' && ended.kind !== 'running') onServer = false;

      switch (ended.kind) {
        case 'success': {
          const image = state.image ?? state.unattributed;
          if (image) {
            job.onProgress(1);
            return image;
          }
          if (!dropped)
            throw new InferenceError(
              'MODEL_ERROR',
              `comfyui at ${http.host} finished ${template.file} but its output node sent no image`,
            );
          log.warn(
            { prompt_id: state.promptId },
            'comfyui sent the image while the socket was down; running the prompt again',
          );
          await clearHistory();
          continue;
        }
        case 'error':
          throw executionFailed(template, ended.data);
        case 'interrupted':
          if (signal.aborted) throw abortError(signal);
          throw new InferenceError(
            'MODEL_ERROR',
            `comfyui at ${http.host} interrupted ${template.file} (cancelled on the server)`,
          );
        case 'pending':
        case 'running':
          adopt = true;
          continue;
        case 'absent':
        case 'dropped':
          // The server restarted and forgot the prompt: nothing of it is left there.
          log.warn({ prompt_id: state.promptId }, 'comfyui lost the prompt (restarted?); running it again');
          continue;
      }
    }
  } catch (err) {
    if (onServer && (await leave(control, socket, state, settings))) recorded = true;
    if (
      signal.aborted &&
      !(err instanceof InferenceError && (err.code === 'CANCELLED' || err.code === 'TIMEOUT'))
    )
      throw abortError(signal);
    throw err;
  } finally {
    void socket.close();
    // Entries an earlier job here could not delete go with this one; the set stays small.
    const earlier = [...leftovers];
    if (earlier.length && (await control.forget(earlier))) for (const id of earlier) leftovers.delete(id);
    await clearHistory();
    while (leftovers.size > MAX_LEFTOVERS) leftovers.delete(leftovers.values().next().value!);
  }
}

/**
 * Follows the socket until the prompt ends, the socket closes, or the job is aborted (rejects with the abort's
 * error). Every `pollIntervalMs` it also asks the server where the prompt is: a socket can stay open yet
 * deaf (ComfyUI drops a client id whose previous socket closed late, and a proxy may swallow frames). A
 * prompt the server has finished, or lost, while the socket said nothing gets `cancelSettleMs` for frames
 * still in flight; then the socket counts as dropped, and the caller reconnects and asks again.
 */
async function follow(deps: {
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
async function leave(
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

async function reconnect(
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

function finishedOutcome(where: {
  status: 'success' | 'error' | 'interrupted';
  error?: Record<string, unknown>;
}): Outcome {
  if (where.status === 'error') return { kind: 'error', data: where.error ?? {} };
  return { kind: where.status };
}

function withRunKey(prompt: ApiWorkflow, outputNodeId: string): ApiWorkflow {
  const output = prompt[outputNodeId]!;
  return {
    ...prompt,
    [outputNodeId]: { ...output, inputs: { ...output.inputs, [CACHE_KEY_INPUT]: randomUUID() } },
  };
}
