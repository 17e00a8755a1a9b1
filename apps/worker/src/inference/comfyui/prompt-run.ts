import { randomUUID } from 'node:crypto';
import { type Logger } from '@castforge/core';
import { InferenceError, abortError } from '../inference-backend';
import { executionFailed } from './comfyui-errors';
import { type ComfyHttp } from './comfyui-http';
import { type ComfySocket, connectSocket } from './comfyui-socket';
import { type PromptControl } from './prompt-control';
import { type RunSettings, follow, leave, reconnect } from './prompt-follow';
import { type Outcome, type WatchState, watchPrompt } from './prompt-watch';
import { type ApiWorkflow, type WorkflowTemplate } from './workflow-template';

export type { RunSettings } from './prompt-follow';

/**
 * An input ComfyUI ignores (it is not in the node's schema) but folds into the node's cache key. ComfyUI
 * skips an output node whose inputs match the previous run's unless its class defines IS_CHANGED, and
 * ETN_SendImageWebSocket does not: a job repeating the last one (a fixed-seed profile, a re-run) would get no
 * image without a fresh value here. SaveImageWebsocket's IS_CHANGED already answers the time, so it gets none.
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

function finishedOutcome(where: {
  status: 'success' | 'error' | 'interrupted';
  error?: Record<string, unknown>;
}): Outcome {
  if (where.status === 'error') return { kind: 'error', data: where.error ?? {} };
  return { kind: where.status };
}

function withRunKey(prompt: ApiWorkflow, outputNodeId: string): ApiWorkflow {
  const output = prompt[outputNodeId]!;
  if (output.class_type === 'SaveImageWebsocket') return prompt;
  return {
    ...prompt,
    [outputNodeId]: { ...output, inputs: { ...output.inputs, [CACHE_KEY_INPUT]: randomUUID() } },
  };
}
