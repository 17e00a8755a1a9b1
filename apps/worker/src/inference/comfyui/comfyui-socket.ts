import WebSocket from 'ws';
import { z } from 'zod';
import { InferenceError } from '../inference-backend';
import { causeOf } from './comfyui-http';

/** What the socket carries for us: ComfyUI's JSON messages, and images from binary frames. */
export type SocketEvent =
  | { kind: 'message'; type: string; data: Record<string, unknown> }
  | {
      kind: 'image';
      bytes: Buffer;
      mimeType: string;
      /** Only frames with metadata (event 4) say whose they are; legacy frames belong to the running node. */
      promptId?: string;
      nodeIds?: string[];
    };

export interface ComfySocket {
  on(listener: (event: SocketEvent) => void): () => void;
  /** Resolves once the connection has ended, whoever ended it. */
  readonly closed: Promise<void>;
  /**
   * Drops the connection at once (no close handshake) and resolves when it is gone. ComfyUI forgets a
   * client id when any socket of that id ends, so an old socket must be gone before a new one registers.
   */
  close(): Promise<void>;
}

const TextFrame = z.object({ type: z.string(), data: z.record(z.string(), z.unknown()).nullish() });
const FrameMetadata = z.looseObject({
  prompt_id: z.string().optional(),
  node_id: z.string().optional(),
  display_node_id: z.string().optional(),
  real_node_id: z.string().optional(),
  image_type: z.string().optional(),
});

/** server.py BinaryEventTypes: 1 = image with a 4-byte format, 4 = image with JSON metadata. */
const PREVIEW_IMAGE = 1;
const PREVIEW_IMAGE_WITH_METADATA = 4;

/** Decodes one binary frame; other events (3 = progress text) and malformed frames give undefined. */
export function parseBinaryFrame(frame: Buffer): SocketEvent | undefined {
  if (frame.length < 8) return undefined;
  const event = frame.readUInt32BE(0);
  if (event === PREVIEW_IMAGE) {
    const format = frame.readUInt32BE(4);
    return { kind: 'image', bytes: frame.subarray(8), mimeType: format === 1 ? 'image/jpeg' : 'image/png' };
  }
  if (event === PREVIEW_IMAGE_WITH_METADATA) {
    const length = frame.readUInt32BE(4);
    if (8 + length > frame.length) return undefined;
    let meta: z.infer<typeof FrameMetadata>;
    try {
      meta = FrameMetadata.parse(JSON.parse(frame.subarray(8, 8 + length).toString('utf8')));
    } catch {
      return undefined;
    }
    const nodeIds = [meta.node_id, meta.display_node_id, meta.real_node_id].filter((id) => id !== undefined);
    return {
      kind: 'image',
      bytes: frame.subarray(8 + length),
      mimeType: meta.image_type ?? 'image/png',
      ...(meta.prompt_id !== undefined && { promptId: meta.prompt_id }),
      nodeIds,
    };
  }
  return undefined;
}

/**
 * Opens `/ws?clientId=…`: ComfyUI sends a prompt's messages only to the socket of the client id it was
 * submitted with, and a reconnect with the same id takes them over. The first message asks for image frames
 * with metadata (servers without feature flags ignore it and send legacy frames). A ping every
 * `heartbeatMs` unanswered by the next one ends the connection, so a half-open TCP link counts as a drop.
 */
export function connectSocket(options: {
  url: string;
  headers: Readonly<Record<string, string>>;
  host: string;
  timeoutMs: number;
  heartbeatMs: number;
}): Promise<ComfySocket> {
  const { url, headers, host, timeoutMs, heartbeatMs } = options;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      headers: { ...headers },
      handshakeTimeout: timeoutMs,
      followRedirects: false,
    });
    const listeners = new Set<(event: SocketEvent) => void>();
    let heartbeat: NodeJS.Timeout | undefined;
    const closed = new Promise<void>((done) => ws.once('close', () => done()));
    void closed.then(() => clearInterval(heartbeat));

    const fail = (why: string, cause?: unknown) => {
      ws.terminate();
      reject(
        new InferenceError('MODEL_UNAVAILABLE', `comfyui at ${host} refused the websocket: ${why}`, {
          cause,
        }),
      );
    };
    ws.once('unexpected-response', (_req, res) => fail(`answered ${res.statusCode ?? '?'} to the upgrade`));
    ws.once('error', (err) => fail(causeOf(err), err));
    ws.once('open', () => {
      ws.removeAllListeners('error');
      // After open, errors end in 'close'; the listener only keeps an error from being thrown unhandled.
      ws.on('error', () => undefined);
      ws.send(JSON.stringify({ type: 'feature_flags', data: { supports_preview_metadata: true } }));
      let alive = true;
      ws.on('pong', () => (alive = true));
      heartbeat = setInterval(() => {
        if (!alive) return ws.terminate();
        alive = false;
        ws.ping();
      }, heartbeatMs);
      heartbeat.unref();
      resolve({
        on(listener) {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
        closed,
        close: () => {
          ws.terminate();
          return closed;
        },
      });
    });
    ws.on('message', (data, isBinary) => {
      const frame = Buffer.isBuffer(data)
        ? data
        : Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.from(data);
      const event = isBinary ? parseBinaryFrame(frame) : parseTextFrame(frame.toString('utf8'));
      if (event) for (const listener of listeners) listener(event);
    });
  });
}

function parseTextFrame(text: string): SocketEvent | undefined {
  try {
    const frame = TextFrame.parse(JSON.parse(text));
    return { kind: 'message', type: frame.type, data: frame.data ?? {} };
  } catch {
    return undefined;
  }
}
