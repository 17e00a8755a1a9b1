import { createHash } from 'node:crypto';
import { type Logger } from '@castforge/core';
import { type OperationName } from '@castforge/schemas';
import {
  type Endpoint,
  type InferenceBackend,
  type InferenceRequest,
  type InferenceResult,
  InferenceError,
} from '../inference-backend';
import { bounded } from './comfyui-errors';
import { type ComfyHttp, createComfyHttp } from './comfyui-http';
import { type CheckedTemplate, checkTemplate, parseObjectInfo } from './object-info';
import { type PromptControl, createPromptControl } from './prompt-control';
import { type RunSettings, runPrompt } from './prompt-run';
import { bindWorkflow } from './workflow-binding';
import { loadWorkflowTemplates } from './workflow-template';

export interface ComfyuiTimings extends RunSettings {
  /** Queue, history, interrupt: small JSON routes. */
  controlTimeoutMs: number;
  /** POST /prompt carries the base64 images and ComfyUI validates the whole graph before answering. */
  submitTimeoutMs: number;
  /** GET /object_info lists every installed node: megabytes on a box with many node packs. */
  objectInfoTimeoutMs: number;
}

const DEFAULT_TIMINGS: ComfyuiTimings = {
  heartbeatMs: 15_000,
  reconnectWindowMs: 30_000,
  cancelSettleMs: 2000,
  socketTimeoutMs: 10_000,
  pollIntervalMs: 10_000,
  controlTimeoutMs: 5000,
  submitTimeoutMs: 60_000,
  objectInfoTimeoutMs: 60_000,
};

export interface ComfyuiBackendOptions {
  /** COMFYUI_WORKFLOWS_DIR: one `<operation>.json` API-format workflow per operation the deployment runs. */
  workflowsDir: string;
  /** Sent on every request and on the websocket upgrade (a reverse proxy's auth). */
  headers?: Readonly<Record<string, string>>;
  logger: Logger;
  timings?: Partial<ComfyuiTimings>;
}

/** What one server has been checked to run. */
interface ServerState {
  http: ComfyHttp;
  control: PromptControl;
  checked: ReadonlyMap<OperationName, CheckedTemplate>;
  /** Prompt ids whose history entries are still to delete (see runPrompt). */
  leftovers: Set<string>;
}

/**
 * The ComfyUI backend (SPEC §12): each operation is a workflow template (COMFYUI_WORKFLOWS_DIR), bound to
 * the job's fields and run over ComfyUI's HTTP + websocket API. Templates are read when the backend is built
 * (a bad file stops the worker there) and checked against every server's /object_info in `init`. Nothing
 * stays on the GPU box: images go in inline, the result comes back on the websocket, and the prompt is
 * deleted from ComfyUI's history once the job ends.
 *
 * Defaults: 20 steps and CFG 7 (SDXL-style) for jobs and profiles that set neither; a template that should
 * not take them (Flux: CFG 1 and a FluxGuidance node) simply does not bind {{cfg}} or {{steps}}.
 */
export function createComfyuiBackend(options: ComfyuiBackendOptions): InferenceBackend {
  const { logger } = options;
  const headers = options.headers ?? {};
  const timings = { ...DEFAULT_TIMINGS, ...options.timings };
  const templates = loadWorkflowTemplates(options.workflowsDir);
  const servers = new Map<number, Promise<ServerState>>();

  /** Checks every template against one server; rejects with one message naming every mismatch. */
  async function check(endpoint: Endpoint): Promise<ServerState> {
    const http = createComfyHttp(endpoint.url, headers, timings.controlTimeoutMs);
    const answer = await http.request('GET', '/object_info', { timeoutMs: timings.objectInfoTimeoutMs });
    if (answer.status !== 200)
      throw new InferenceError(
        'MODEL_UNAVAILABLE',
        bounded(`comfyui at ${http.host} answered ${answer.status} to GET /object_info`),
      );
    const specs = parseObjectInfo(answer.json);
    if (!specs.size)
      throw new InferenceError(
        'MODEL_UNAVAILABLE',
        `comfyui at ${http.host} answered GET /object_info without any node`,
      );
    const problems: string[] = [];
    const checked = new Map<OperationName, CheckedTemplate>();
    for (const [operation, template] of templates) {
      const result = checkTemplate(template, specs);
      for (const warning of result.warnings)
        logger.warn({ endpoint: endpoint.index }, `comfyui at ${http.host}: ${warning}`);
      problems.push(...result.problems);
      if (result.checked) checked.set(operation, result.checked);
    }
    if (problems.length)
      throw new TemplateMismatch(
        `comfyui at ${http.host} cannot run the workflow templates: ${problems.join('; ')}`,
      );
    const log = logger.child({ endpoint: endpoint.index });
    return {
      http,
      control: createPromptControl(http, log, timings.controlTimeoutMs, timings.submitTimeoutMs),
      checked,
      leftovers: new Set(),
    };
  }

  /** A server unreachable at start is checked by its first job; until it passes, its jobs go elsewhere. */
  function serverFor(endpoint: Endpoint): Promise<ServerState> {
    let state = servers.get(endpoint.index);
    if (!state) {
      state = check(endpoint);
      servers.set(endpoint.index, state);
      state.catch(() => servers.delete(endpoint.index));
    }
    return state;
  }

  async function init(endpoints: readonly Endpoint[]): Promise<void> {
    const results = await Promise.allSettled(endpoints.map((endpoint) => serverFor(endpoint)));
    const mismatches = results.flatMap((r) =>
      r.status === 'rejected' && r.reason instanceof TemplateMismatch ? [r.reason.message] : [],
    );
    if (mismatches.length) throw new Error(mismatches.join('\n'));
    const unreachable = results.flatMap((r) =>
      r.status === 'rejected' ? [String((r.reason as Error).message)] : [],
    );
    if (unreachable.length === endpoints.length && endpoints.length)
      throw new Error(`no comfyui server answered: ${unreachable.join('; ')}`);
    for (const reason of unreachable)
      logger.warn(`${reason}; its templates are checked when it first takes a job`);
    logger.info(
      { operations: [...templates.keys()], endpoints: endpoints.length - unreachable.length },
      'comfyui templates checked',
    );
  }

  async function run(endpoint: Endpoint, request: InferenceRequest): Promise<InferenceResult> {
    const log = logger.child({ job_id: request.jobId, endpoint: endpoint.index });
    let server: ServerState;
    try {
      server = await serverFor(endpoint);
    } catch (err) {
      if (err instanceof InferenceError) throw err;
      throw new InferenceError('MODEL_UNAVAILABLE', err instanceof Error ? err.message : String(err), {
        cause: err,
      });
    }
    const checked = server.checked.get(request.operation);
    if (!checked)
      throw new InferenceError(
        'INPUT_INVALID',
        `no comfyui workflow template for ${request.operation} (${request.operation}.json)`,
      );
    const promptId = promptIdOf(request.jobId);
    const started = Date.now();
    const image = await runPrompt(
      { http: server.http, control: server.control, settings: timings, log, leftovers: server.leftovers },
      {
        template: checked.template,
        prompt: bound(server, checked, request),
        promptId,
        clientId: `castforge-${promptId}`,
        signal: request.signal,
        onProgress: (fraction) => request.onProgress(fraction),
      },
    );
    log.debug(
      { bytes: image.bytes.length, ms: Date.now() - started, prompt_id: promptId },
      'comfyui prompt done',
    );
    // The seed went into every {{seed}} of the template; a template without one is deterministic or its own.
    return { image: image.bytes, seed: request.seed };
  }

  return {
    name: 'comfyui',
    defaults: { steps: 20, guidance: 7 },
    operations: new Set(templates.keys()),
    init,
    run,
  };
}

/** The job's prompt graph; a gap of this server (a LoRA slot it cannot run) names the server. */
function bound(server: ServerState, checked: CheckedTemplate, request: InferenceRequest) {
  try {
    return bindWorkflow(checked, request);
  } catch (err) {
    if (err instanceof InferenceError && err.code === 'MODEL_UNAVAILABLE')
      throw new InferenceError(err.code, `comfyui at ${server.http.host}: ${err.message}`);
    throw err;
  }
}

class TemplateMismatch extends Error {
  override name = 'TemplateMismatch';
}

/** A fixed namespace for name-based UUIDs of castforge jobs (RFC 9562 §5.5, SHA-1). */
const NAMESPACE = Buffer.from('6f1c3a2e8b4d4f0a9e7c5d3b1a2f4e6c', 'hex');

/**
 * The prompt id of a job: a UUID derived from the job id, so a retry of the job finds the prompt an earlier
 * attempt left on the server (and follows it rather than queueing the same work twice). Derived, not the
 * job id itself, so ComfyUI's logs and UI show a UUID like every other prompt's.
 */
export function promptIdOf(jobId: string): string {
  const hash = createHash('sha1').update(NAMESPACE).update(jobId).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
