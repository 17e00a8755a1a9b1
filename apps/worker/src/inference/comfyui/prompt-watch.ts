import { type ComfySocket, type SocketEvent } from './comfyui-socket';

/** How one run of a prompt ended, as far as the socket tells. */
export type Outcome =
  | { kind: 'success' }
  | { kind: 'error'; data: Record<string, unknown> }
  | { kind: 'interrupted' }
  /** The socket closed first: the prompt may still be queued, running or done (ask the server). */
  | { kind: 'dropped' };

/** What a job has learnt over all its sockets: kept across reconnects. */
export interface WatchState {
  promptId: string;
  outputNodeId: string;
  image?: { bytes: Buffer; mimeType: string };
  /** The node ComfyUI said it is running; legacy image frames belong to it. */
  currentNode?: string | null;
  /** The socket said the prompt started (and it has not ended): the cancel's fallback when /queue fails. */
  started?: boolean;
  /**
   * A legacy frame that came while the server had named no running node (a server or proxy that sends no
   * `executing`): the last one is the result if no frame could be attributed.
   */
  unattributed?: { bytes: Buffer; mimeType: string };
  progress: number;
}

export interface PromptWatch {
  outcome: Promise<Outcome>;
  /** The prompt id is known (POST /prompt answered): events held until now are read, in order, and then live. */
  confirm(): void;
  stop(): void;
}

/**
 * Follows one socket until our prompt ends or the socket closes. The socket's client id is the job's own, so
 * ComfyUI sends it only this prompt's messages; terminal messages are still matched on `prompt_id`, because
 * `execution_interrupted` of a prompt submitted without a client id goes to every socket.
 *
 * Watch before submitting, with `held`: a prompt served from ComfyUI's cache, or failing at once, sends its
 * whole story on the socket before POST /prompt has answered, and a server before 0.3.45 names the prompt
 * only in that answer. Events are held until `confirm()`.
 */
export function watchPrompt(
  socket: ComfySocket,
  state: WatchState,
  onProgress: (fraction: number) => void,
  options: { held?: boolean } = {},
): PromptWatch {
  let settle!: (outcome: Outcome) => void;
  const outcome = new Promise<Outcome>((resolve) => (settle = resolve));
  const ours = (data: Record<string, unknown>) => data.prompt_id === state.promptId;
  let held: SocketEvent[] | undefined = options.held ? [] : undefined;

  const onEvent = (event: SocketEvent) => {
    if (event.kind === 'image') return takeImage(state, event);
    const { type, data } = event;
    // Older servers leave prompt_id off running messages; on our own socket those are ours.
    const oursOrUnnamed = data.prompt_id === undefined || ours(data);
    switch (type) {
      case 'execution_start':
        if (ours(data)) state.started = true;
        return;
      case 'executing':
        if (!oursOrUnnamed) return;
        state.currentNode = typeof data.node === 'string' ? data.node : null;
        state.started = state.currentNode !== null;
        // node: null closes a prompt on servers that predate execution_success; errors come before it.
        if (data.node === null && ours(data)) settle({ kind: 'success' });
        return;
      case 'progress': {
        if (!oursOrUnnamed || data.node === state.outputNodeId) return;
        const value = Number(data.value);
        const max = Number(data.max);
        if (!(max > 0) || !Number.isFinite(value)) return;
        // Capped below 1 until the image is in hand; a second sampler pass never moves it back.
        const fraction = Math.min(0.99, Math.max(0, value / max));
        if (fraction > state.progress) {
          state.progress = fraction;
          onProgress(fraction);
        }
        return;
      }
      case 'execution_success':
        if (ours(data)) settle({ kind: 'success' });
        return;
      case 'execution_error':
        if (ours(data)) settle({ kind: 'error', data });
        return;
      case 'execution_interrupted':
        if (ours(data)) settle({ kind: 'interrupted' });
        return;
      default:
        return;
    }
  };

  const unsubscribe = socket.on((event) => (held ? held.push(event) : onEvent(event)));
  void socket.closed.then(() => (held ? undefined : settle({ kind: 'dropped' })));
  void outcome.then(unsubscribe);
  return {
    outcome,
    confirm() {
      const events = held ?? [];
      held = undefined;
      events.forEach(onEvent);
      void socket.closed.then(() => settle({ kind: 'dropped' }));
    },
    stop: () => settle({ kind: 'dropped' }),
  };
}

/**
 * The output node's image: a frame with metadata names its prompt and node; a legacy frame (ETN's, or any
 * from a server without feature flags) is the output's if the output node is the one running. Previews of a
 * sampler (`--preview-method`) come from other nodes and are skipped. The first image wins. A legacy frame
 * with no running node named is kept aside, the last one winning (previews come before the result).
 */
function takeImage(state: WatchState, event: Extract<SocketEvent, { kind: 'image' }>) {
  if (state.image) return;
  if (event.nodeIds === undefined && state.currentNode === undefined && event.bytes.length > 0) {
    state.unattributed = { bytes: Buffer.from(event.bytes), mimeType: event.mimeType };
    return;
  }
  const fromOutput =
    event.nodeIds !== undefined
      ? (event.promptId === undefined || event.promptId === state.promptId) &&
        event.nodeIds.includes(state.outputNodeId)
      : state.currentNode === state.outputNodeId;
  if (fromOutput && event.bytes.length > 0)
    state.image = { bytes: Buffer.from(event.bytes), mimeType: event.mimeType };
}
