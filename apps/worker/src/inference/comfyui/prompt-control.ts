import { setTimeout as sleep } from 'node:timers/promises';
import { type Logger } from '@castforge/core';
import { z } from 'zod';
import { InferenceError } from '../inference-backend';
import { bounded, promptRefused } from './comfyui-errors';
import { type ComfyHttp, deploymentStatus } from './comfyui-http';
import { type ApiWorkflow, type WorkflowTemplate } from './workflow-template';

/** `[number, prompt_id, prompt, extra_data, outputs_to_execute, …]`; only the id is read. */
const QueueItem = z.array(z.unknown()).min(2);
const QueueAnswer = z.looseObject({
  queue_running: z.array(QueueItem).default([]),
  queue_pending: z.array(QueueItem).default([]),
});
const HistoryEntry = z.looseObject({
  status: z
    .looseObject({
      status_str: z.string().optional(),
      completed: z.boolean().optional(),
      messages: z.array(z.tuple([z.string(), z.unknown()]).rest(z.unknown())).default([]),
    })
    .nullish(),
});
const Submitted = z.looseObject({ prompt_id: z.string() });

/** Where the server has a prompt. A history entry is a finished run, whatever its status. */
export type Whereabouts =
  | { kind: 'pending' | 'running' | 'absent' }
  | { kind: 'finished'; status: 'success' | 'error' | 'interrupted'; error?: Record<string, unknown> };

export function createPromptControl(
  http: ComfyHttp,
  log: Logger,
  controlTimeoutMs: number,
  submitTimeoutMs: number,
) {
  const ok = (status: number) => status >= 200 && status < 300;

  async function history(promptId: string): Promise<Whereabouts | undefined> {
    const answer = await http.request('GET', `/history/${encodeURIComponent(promptId)}`, {
      timeoutMs: controlTimeoutMs,
    });
    if (!ok(answer.status)) throw unavailable(`GET /history answered ${answer.status}`);
    const found = z.record(z.string(), z.unknown()).safeParse(answer.json);
    const raw = found.success ? found.data[promptId] : undefined;
    if (raw === undefined) return undefined;
    const entry = HistoryEntry.safeParse(raw);
    const messages = entry.success ? (entry.data.status?.messages ?? []) : [];
    const error = messages.find(([type]) => type === 'execution_error');
    if (error) return { kind: 'finished', status: 'error', error: asRecord(error[1]) };
    if (messages.some(([type]) => type === 'execution_interrupted'))
      return { kind: 'finished', status: 'interrupted' };
    const status = entry.success ? entry.data.status : undefined;
    const success =
      status?.status_str === 'success' || (status?.status_str === undefined && status?.completed === true);
    return { kind: 'finished', status: success ? 'success' : 'error', error: {} };
  }

  async function queue(): Promise<{ running: string[]; pending: string[] }> {
    const answer = await http.request('GET', '/queue', { timeoutMs: controlTimeoutMs });
    const parsed = QueueAnswer.safeParse(answer.json);
    if (!ok(answer.status) || !parsed.success) throw unavailable(`GET /queue answered ${answer.status}`);
    const ids = (items: unknown[][]) => items.map((item) => String(item[1]));
    return { running: ids(parsed.data.queue_running), pending: ids(parsed.data.queue_pending) };
  }

  /** POST /history {delete}: the history keeps the whole prompt, base64 faces included, in RAM (SPEC §9). */
  async function forget(promptIds: string[]): Promise<boolean> {
    try {
      const answer = await http.request('POST', '/history', {
        body: { delete: promptIds },
        timeoutMs: controlTimeoutMs,
      });
      return ok(answer.status);
    } catch (err) {
      log.warn({ err }, 'comfyui history delete failed');
      return false;
    }
  }

  function unavailable(why: string) {
    return new InferenceError('MODEL_UNAVAILABLE', bounded(`comfyui at ${http.host}: ${why}`));
  }

  return {
    forget,

    /**
     * History, then the queue, then history again: a prompt that finishes between the first two reads would
     * otherwise look absent (and be run twice).
     */
    async locate(promptId: string): Promise<Whereabouts> {
      const first = await history(promptId);
      if (first) return first;
      const { running, pending } = await queue();
      if (running.includes(promptId)) return { kind: 'running' };
      if (pending.includes(promptId)) return { kind: 'pending' };
      return (await history(promptId)) ?? { kind: 'absent' };
    },

    queue,

    /** POST /prompt; answers the id ComfyUI runs it under (servers before 0.3.45 pick their own). */
    async submit(
      template: WorkflowTemplate,
      prompt: ApiWorkflow,
      promptId: string,
      clientId: string,
    ): Promise<string> {
      // Never aborted mid-request: a POST the server received but we stopped reading would leave a prompt
      // running that nobody cancels. An abort is handled once this answers.
      const answer = await http.request('POST', '/prompt', {
        body: { prompt, client_id: clientId, prompt_id: promptId, extra_data: {} },
        timeoutMs: submitTimeoutMs,
      });
      if (answer.status === 400) throw promptRefused(template, http.host, answer.json, answer.text);
      if (!ok(answer.status)) {
        const code = deploymentStatus(answer.status)
          ? 'MODEL_UNAVAILABLE'
          : answer.status < 500
            ? 'INPUT_INVALID'
            : 'MODEL_ERROR';
        throw new InferenceError(
          code,
          bounded(
            `comfyui at ${http.host} answered ${answer.status} to POST /prompt: ${answer.text || '(empty body)'}`,
          ),
        );
      }
      const submitted = Submitted.safeParse(answer.json);
      if (!submitted.success)
        throw new InferenceError(
          'MODEL_ERROR',
          `comfyui at ${http.host} accepted the prompt without a prompt_id`,
        );
      if (submitted.data.prompt_id !== promptId)
        log.debug(
          { prompt_id: submitted.data.prompt_id },
          'comfyui chose its own prompt_id (server older than 0.3.45)',
        );
      return submitted.data.prompt_id;
    },

    /**
     * Takes a prompt off the server: out of the queue if pending (harmless if not), interrupted if running.
     * The interrupt names the prompt, which servers from 0.3.57 honour; older ones ignore the body and
     * interrupt whatever runs, so it is only sent when /queue shows ours running (or, if /queue cannot be
     * read, when the socket said ours had started and not ended). Answers whether an interrupt was sent
     * (the run then ends with execution_interrupted). Failures are logged, not thrown.
     */
    async cancel(promptId: string, startedOnSocket: boolean): Promise<boolean> {
      try {
        await http.request('POST', '/queue', { body: { delete: [promptId] }, timeoutMs: controlTimeoutMs });
        const running = await queue().then(
          (q) => q.running.includes(promptId),
          (err: unknown) => {
            log.warn({ err }, 'comfyui queue unreadable; deciding the interrupt from the socket');
            return startedOnSocket;
          },
        );
        if (!running) return false;
        const answer = await http.request('POST', '/interrupt', {
          body: { prompt_id: promptId },
          timeoutMs: controlTimeoutMs,
        });
        if (!ok(answer.status)) log.warn({ status: answer.status }, 'comfyui refused the interrupt');
        return true;
      } catch (err) {
        log.warn({ err }, 'comfyui cancel failed; the prompt may still run');
        return false;
      }
    },

    /**
     * ComfyUI sends execution_success (or _error, _interrupted) just before it files the run in its history,
     * so a delete sent at once can miss it: wait, briefly, for the entry, then delete it. Answers whether it
     * is known gone (false: delete it again later).
     */
    async forgetOnceRecorded(promptId: string, withinMs: number): Promise<boolean> {
      const deadline = Date.now() + withinMs;
      let seen = false;
      try {
        while (!(seen = (await history(promptId)) !== undefined) && Date.now() < deadline) await sleep(25);
      } catch (err) {
        log.warn({ err }, 'comfyui history unreadable; deleting the entry blind');
      }
      // Sent whatever the reads said: a server whose history cannot be read may still take the delete.
      const deleted = await forget([promptId]);
      return seen && deleted;
    },
  };
}

export type PromptControl = ReturnType<typeof createPromptControl>;

const asRecord = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
