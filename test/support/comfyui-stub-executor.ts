import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { type StubNodeInfo } from './comfyui-stub-nodes';
import { type ApiPrompt, isLink } from './comfyui-stub-validation';

/** What the next prompt(s) should do instead of, or on top of, running normally. */
export interface ComfyStubScript {
  /** The sampler stays at step 0 until the prompt is interrupted, `release()` is called or the server restarts. */
  hold?: boolean;
  /** Raise this exception in the first node of this class (or with this id): an execution_error. */
  fail?: { node: string; message: string; type?: string };
  /** Close the client's socket just before the output node sends its image (the frame is then lost). */
  dropSocketBeforeImage?: boolean;
  /** How many upcoming prompts this applies to. Default 1. */
  times?: number;
}

/** [number, prompt_id, prompt, extra_data, outputs_to_execute], as PromptQueue keeps it. */
export type QueueItem = [number, string, ApiPrompt, Record<string, unknown>, string[]];

/** What an execution needs from the server: where to send, what to record. */
export interface ExecutionContext {
  catalogue: Record<string, StubNodeInfo>;
  stepMs: number;
  send(clientId: string | undefined, type: string, data: Record<string, unknown>): void;
  /** An image frame, shaped by the client's feature flags unless `legacy` (ETN always sends event 1). */
  sendImage(
    clientId: string | undefined,
    png: Buffer,
    meta: { nodeId: string; promptId: string },
    legacy: boolean,
  ): void;
  setRunningNode(nodeId: string | null): void;
  dropClient(clientId: string): void;
  interrupted(): boolean;
  /** Resolves when `release()` is called; aborted by a restart. */
  released(): Promise<void>;
  /** Set by a restart: the execution stops where it is, sending nothing more. */
  gone: AbortSignal;
  saveFile(name: string): void;
  /** Node outputs of the previous prompt, by node id, with the signature they were computed for. */
  cache: Map<string, { signature: string; outputs: Value[]; ui?: Record<string, unknown> }>;
}

/** A node output: pixels (IMAGE, LATENT, MASK) carry a size; models and conditionings only a digest. */
interface Value {
  width?: number;
  height?: number;
  digest: string;
}
const PIXEL_TYPES = new Set(['IMAGE', 'LATENT', 'MASK']);

export interface ExecutionResult {
  status: 'success' | 'error';
  messages: Array<[string, Record<string, unknown>]>;
  outputs: Record<string, Record<string, unknown>>;
}

/** Classes that define IS_CHANGED returning the time: never served from the cache. */
const ALWAYS_CHANGED = new Set(['SaveImageWebsocket']);

/**
 * Runs one queue item as execution.PromptExecutor does: execution_start, execution_cached, then each node
 * (executing, progress, binary frames, executed), then execution_success or execution_error /
 * execution_interrupted. Images are real PNGs whose size comes from the graph (EmptyLatentImage, a decoded
 * input, a scale) and whose colours are a hash of everything upstream, so a prompt, seed or size change shows.
 */
export async function executePrompt(
  ctx: ExecutionContext,
  item: QueueItem,
  script: ComfyStubScript,
): Promise<ExecutionResult | undefined> {
  const [, promptId, prompt, extraData, outputIds] = item;
  const clientId = typeof extraData.client_id === 'string' ? extraData.client_id : undefined;
  const messages: ExecutionResult['messages'] = [];
  const message = (type: string, data: Record<string, unknown>, broadcast = false) => {
    const stamped = { ...data, timestamp: Date.now() };
    messages.push([type, stamped]);
    if (clientId !== undefined || broadcast) ctx.send(clientId, type, stamped);
  };
  const order = executionOrder(prompt, outputIds);
  for (const id of ctx.cache.keys()) if (!order.includes(id)) ctx.cache.delete(id);
  const signatures = new Map(order.map((id) => [id, signatureOf(prompt, id)]));
  const cached = order.filter((id) => ctx.cache.get(id)?.signature === signatures.get(id));
  const values = new Map<string, Value[]>(cached.map((id) => [id, ctx.cache.get(id)!.outputs]));
  const outputs: ExecutionResult['outputs'] = {};
  const executed: string[] = [];

  message('execution_start', { prompt_id: promptId });
  message('execution_cached', { nodes: cached, prompt_id: promptId });
  for (const id of order) {
    if (ctx.gone.aborted) return undefined;
    const node = prompt[id]!;
    const classType = node.class_type as string;
    if (cached.includes(id)) {
      const ui = ctx.cache.get(id)!.ui;
      if (ui) ctx.send(clientId, 'executed', { node: id, display_node: id, output: ui, prompt_id: promptId });
      continue;
    }
    if (ctx.interrupted()) {
      message(
        'execution_interrupted',
        { prompt_id: promptId, node_id: id, node_type: classType, executed },
        true,
      );
      return { status: 'error', messages, outputs };
    }
    ctx.setRunningNode(id);
    ctx.send(clientId, 'executing', { node: id, display_node: id, prompt_id: promptId });
    const inputs = resolveInputs(node.inputs ?? {}, values);
    const fail = (type: string, text: string) => {
      message('execution_error', {
        prompt_id: promptId,
        node_id: id,
        node_type: classType,
        executed,
        exception_message: `${text}\n`,
        exception_type: type,
        traceback: [
          `  File "execution.py", line 496, in execute\n`,
          `  File "nodes.py", line 1, in ${classType}\n`,
        ],
        // ComfyUI echoes the inputs, base64 images included: a client must never keep this.
        current_inputs: Object.fromEntries(
          Object.entries(node.inputs ?? {})
            .filter(([, v]) => !isLink(v))
            .map(([k, v]) => [k, [v]]),
        ),
        current_outputs: [...values.keys()],
      });
      return { status: 'error' as const, messages, outputs };
    };
    if (script.fail && (script.fail.node === classType || script.fail.node === id))
      return fail(script.fail.type ?? 'Exception', script.fail.message);

    const digest = createHash('sha256').update(signatures.get(id)!).digest('hex');
    const upstream = Object.values(inputs).find(
      (v): v is Value => typeof v === 'object' && v !== null && (v as Value).width !== undefined,
    );
    let out: Value = { width: upstream?.width ?? 64, height: upstream?.height ?? 64, digest };
    let ui: Record<string, unknown> | undefined;
    switch (classType) {
      case 'EmptyLatentImage':
        out = { ...out, width: Number(inputs.width), height: Number(inputs.height) };
        break;
      case 'ETN_LoadImageBase64': {
        const decoded = await decodeBase64Image(String(inputs.image));
        if (!decoded)
          return fail(
            'PIL.UnidentifiedImageError',
            'cannot identify image file <_io.BytesIO object at 0x7f3a2c1b9e50>',
          );
        out = { ...out, ...decoded };
        break;
      }
      case 'ImageScaleBy':
        out = {
          ...out,
          width: Math.round((out.width ?? 64) * Number(inputs.scale_by)),
          height: Math.round((out.height ?? 64) * Number(inputs.scale_by)),
        };
        break;
      case 'KSampler': {
        const steps = Number(inputs.steps);
        if (script.hold) {
          await Promise.race([ctx.released(), waitFor(() => ctx.interrupted(), ctx.gone)]);
          if (ctx.gone.aborted) return undefined;
        }
        for (let step = 1; step <= steps; step += 1) {
          if (ctx.interrupted()) {
            message(
              'execution_interrupted',
              { prompt_id: promptId, node_id: id, node_type: classType, executed },
              true,
            );
            return { status: 'error', messages, outputs };
          }
          await sleep(ctx.stepMs);
          if (ctx.gone.aborted) return undefined;
          ctx.send(clientId, 'progress', { value: step, max: steps, prompt_id: promptId, node: id });
        }
        break;
      }
      case 'SaveImageWebsocket':
      case 'ETN_SendImageWebSocket': {
        const png = await render(inputs.images as Value);
        // SaveImageWebsocket reports through the progress hook (a progress message, then the frame).
        if (classType === 'SaveImageWebsocket')
          ctx.send(clientId, 'progress', { value: 0, max: 1, prompt_id: promptId, node: id });
        if (script.dropSocketBeforeImage && clientId) ctx.dropClient(clientId);
        ctx.sendImage(clientId, png, { nodeId: id, promptId }, classType === 'ETN_SendImageWebSocket');
        if (classType === 'ETN_SendImageWebSocket')
          ui = { images: [{ source: 'websocket', 'content-type': 'image/png', type: 'output' }] };
        break;
      }
      case 'SaveImage':
      case 'PreviewImage': {
        const filename = `ComfyUI_${String(executed.length).padStart(5, '0')}_.png`;
        ctx.saveFile(`${classType === 'SaveImage' ? 'output' : 'temp'}/${filename}`);
        ui = { images: [{ filename, subfolder: '', type: classType === 'SaveImage' ? 'output' : 'temp' }] };
        break;
      }
      default:
        break;
    }
    const info = ctx.catalogue[classType]!;
    values.set(
      id,
      info.output.map((type) => (PIXEL_TYPES.has(type) ? out : { digest: out.digest })),
    );
    ctx.cache.set(id, { signature: signatures.get(id)!, outputs: values.get(id)!, ...(ui && { ui }) });
    if (ui) {
      outputs[id] = ui;
      ctx.send(clientId, 'executed', { node: id, display_node: id, output: ui, prompt_id: promptId });
    }
    executed.push(id);
  }
  message('execution_success', { prompt_id: promptId });
  return { status: 'success', messages, outputs };
}

/** Every node an output needs, dependencies first (any topological order is one ComfyUI could take). */
function executionOrder(prompt: ApiPrompt, outputIds: string[]): string[] {
  const order: string[] = [];
  const visit = (id: string) => {
    if (order.includes(id)) return;
    for (const value of Object.values(prompt[id]?.inputs ?? {})) if (isLink(value)) visit(value[0]);
    order.push(id);
  };
  outputIds.forEach(visit);
  return order;
}

/** caching.py: class, IS_CHANGED, then every input (unknown ones too) with links as their ancestors' signatures. */
function signatureOf(prompt: ApiPrompt, id: string): string {
  const node = prompt[id]!;
  const inputs = node.inputs ?? {};
  const parts: unknown[] = [
    node.class_type,
    ALWAYS_CHANGED.has(node.class_type as string) ? Math.random() : false,
  ];
  for (const key of Object.keys(inputs).sort()) {
    const value = inputs[key];
    parts.push([key, isLink(value) ? [signatureOf(prompt, value[0]), value[1]] : value]);
  }
  return JSON.stringify(parts);
}

function resolveInputs(
  inputs: Record<string, unknown>,
  values: Map<string, Value[]>,
): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(inputs).map(([key, value]) => [
      key,
      isLink(value) ? values.get(value[0])?.[value[1]] : value,
    ]),
  );
}

/** base64.b64decode then PIL's Image.open: anything else (a data: prefix included) is not an image. */
async function decodeBase64Image(text: string): Promise<{ width: number; height: number } | undefined> {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  try {
    const meta = await sharp(Buffer.from(text, 'base64')).metadata();
    return meta.width && meta.height ? { width: meta.width, height: meta.height } : undefined;
  } catch {
    return undefined;
  }
}

async function render(value: Value): Promise<Buffer> {
  const colour = Buffer.from(value.digest.slice(0, 6), 'hex');
  return sharp({
    create: {
      width: value.width ?? 64,
      height: value.height ?? 64,
      channels: 3,
      background: { r: colour[0]!, g: colour[1]!, b: colour[2]! },
    },
  })
    .png()
    .toBuffer();
}

async function waitFor(condition: () => boolean, gone: AbortSignal): Promise<void> {
  while (!condition() && !gone.aborted) await sleep(5);
}
