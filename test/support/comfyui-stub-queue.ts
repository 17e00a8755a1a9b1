import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type WebSocket } from 'ws';
import {
  type ComfyStubScript,
  type ExecutionContext,
  type QueueItem,
  executePrompt,
} from './comfyui-stub-executor';
import { type StubNodeInfo } from './comfyui-stub-nodes';
import { type ApiPrompt, validatePrompt } from './comfyui-stub-validation';

/**
 * What one run of the stub server holds in memory, as ComfyUI's PromptServer and PromptQueue do: the queue,
 * the running prompt, the history, the connected client ids and the node cache. A restart starts a new one.
 */
export interface Boot {
  state: BootState;
  queueInfo(): { exec_info: { queue_remaining: number } };
  /** server.py send_json: to one client id if it is connected, or to every socket. */
  sendJson(clientId: string | undefined, type: string, data: Record<string, unknown>): void;
  queueUpdated(): void;
  /** Starts the next prompt if none runs and the queue is not paused. */
  pump(): void;
  /** POST /prompt: the status and body to answer. */
  postPrompt(body: Record<string, unknown>): { status: number; payload: unknown };
  /** POST /interrupt: the prompt actually interrupted, or null. */
  postInterrupt(body: Record<string, unknown>): { promptId?: string; hit: string | null };
  /** Ends this boot: the running prompt stops where it is, sending nothing more. */
  stop(): void;
}

export interface BootState {
  number: number;
  queue: QueueItem[];
  running?: { item: QueueItem; script: ComfyStubScript };
  runningNode: string | null;
  history: Map<string, Record<string, unknown>>;
  sockets: Map<string, { ws: WebSocket; flags: Record<string, unknown> }>;
  cache: ExecutionContext['cache'];
  interruptFlag: boolean;
}

export interface BootDeps {
  catalogue: Record<string, StubNodeInfo>;
  stepMs: number;
  historyDelayMs: number;
  clientPromptIds: boolean;
  targetedInterrupt: boolean;
  paused(): boolean;
  nextScript(): ComfyStubScript;
  released(): Promise<void>;
  saveFile(name: string): void;
  /** Told of every image frame sent, whether or not a socket was there to take it. */
  sentImage(promptId: string, png: Buffer): void;
}

export function bootComfy(deps: BootDeps): Boot {
  const gone = new AbortController();
  const state: BootState = {
    number: 0,
    queue: [],
    runningNode: null,
    history: new Map(),
    sockets: new Map(),
    cache: new Map(),
    interruptFlag: false,
  };
  const queueInfo = () => ({ exec_info: { queue_remaining: state.queue.length + (state.running ? 1 : 0) } });
  const sendJson = (clientId: string | undefined, type: string, data: Record<string, unknown>) => {
    const text = JSON.stringify({ type, data });
    const targets =
      clientId === undefined
        ? [...state.sockets.values()]
        : [state.sockets.get(clientId)].filter((s) => s !== undefined);
    for (const { ws } of targets) ws.send(text);
  };
  const queueUpdated = () => sendJson(undefined, 'status', { status: queueInfo() });

  /** main.py prompt_worker: one item at a time, lowest number first. */
  function pump() {
    if (deps.paused() || state.running || !state.queue.length || gone.signal.aborted) return;
    state.queue.sort((a, b) => a[0] - b[0]);
    const item = state.queue.shift()!;
    const run = { item, script: deps.nextScript() };
    state.running = run;
    state.interruptFlag = false;
    queueUpdated();
    const clientId = typeof item[3].client_id === 'string' ? item[3].client_id : undefined;
    void executePrompt(
      {
        catalogue: deps.catalogue,
        stepMs: deps.stepMs,
        send: sendJson,
        sendImage(target, png, meta, legacy) {
          deps.sentImage(meta.promptId, png);
          const socket = target === undefined ? undefined : state.sockets.get(target);
          const targets = target === undefined ? [...state.sockets.values()] : socket ? [socket] : [];
          for (const { ws, flags } of targets)
            ws.send(imageFrame(png, meta, !legacy && flags.supports_preview_metadata === true));
        },
        setRunningNode: (nodeId) => (state.runningNode = nodeId),
        dropClient: (id) => state.sockets.get(id)?.ws.terminate(),
        interrupted: () => state.interruptFlag,
        released: () => deps.released(),
        gone: gone.signal,
        saveFile: (name) => deps.saveFile(name),
        cache: state.cache,
      },
      item,
      run.script,
    ).then(async (result) => {
      if (!result || gone.signal.aborted) return;
      await sleep(deps.historyDelayMs);
      if (gone.signal.aborted) return;
      state.history.set(item[1], {
        prompt: item,
        outputs: result.outputs,
        status: {
          status_str: result.status,
          completed: result.status === 'success',
          messages: result.messages,
        },
        meta: {},
      });
      state.running = undefined;
      state.runningNode = null;
      if (clientId !== undefined) sendJson(clientId, 'executing', { node: null, prompt_id: item[1] });
      queueUpdated();
      pump();
    });
  }

  function postPrompt(body: Record<string, unknown>) {
    let number = state.number;
    if (typeof body.number === 'number') number = body.number;
    else {
      if (body.front === true) number = -number;
      state.number += 1;
    }
    if (!('prompt' in body)) {
      const error = {
        type: 'no_prompt',
        message: 'No prompt provided',
        details: 'No prompt provided',
        extra_info: {},
      };
      return { status: 400, payload: { error, node_errors: {} } };
    }
    const prompt = body.prompt as ApiPrompt;
    const promptId =
      deps.clientPromptIds && (typeof body.prompt_id === 'string' || typeof body.prompt_id === 'number')
        ? String(body.prompt_id)
        : randomUUID();
    const valid = validatePrompt(prompt, deps.catalogue);
    if (!valid.ok) return { status: 400, payload: { error: valid.error, node_errors: valid.nodeErrors } };
    const extra = { ...((body.extra_data as Record<string, unknown> | undefined) ?? {}) };
    if ('client_id' in body) extra.client_id = body.client_id;
    state.queue.push([number, promptId, prompt, extra, valid.outputs]);
    queueUpdated();
    // ComfyUI's prompt worker is another thread: a prompt may start, and a cached or failing one end, before
    // the POST is answered. Starting it first gives clients that order, the one that catches late listeners.
    pump();
    return { status: 200, payload: { prompt_id: promptId, number, node_errors: {} } };
  }

  /** server.py post_interrupt; a server before 0.3.57 ignores the body and interrupts whatever runs. */
  function postInterrupt(body: Record<string, unknown>) {
    const promptId = typeof body.prompt_id === 'string' && body.prompt_id ? body.prompt_id : undefined;
    const runningId = state.running?.item[1] ?? null;
    const global = promptId === undefined || !deps.targetedInterrupt;
    const hit = global || promptId === runningId ? runningId : null;
    if (hit !== null) state.interruptFlag = true;
    return { ...(promptId !== undefined && { promptId }), hit };
  }

  return {
    state,
    queueInfo,
    sendJson,
    queueUpdated,
    pump,
    postPrompt,
    postInterrupt,
    stop: () => gone.abort(),
  };
}

/** server.py: event 1 (4-byte image type, 2 = PNG), or event 4 (4-byte metadata length, metadata JSON). */
function imageFrame(png: Buffer, meta: { nodeId: string; promptId: string }, withMetadata: boolean): Buffer {
  if (!withMetadata) return Buffer.concat([u32(1), u32(2), png]);
  const metadata = Buffer.from(
    JSON.stringify({
      node_id: meta.nodeId,
      prompt_id: meta.promptId,
      display_node_id: meta.nodeId,
      parent_node_id: null,
      real_node_id: meta.nodeId,
      image_type: 'image/png',
    }),
  );
  return Buffer.concat([u32(4), u32(metadata.length), metadata, png]);
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}
