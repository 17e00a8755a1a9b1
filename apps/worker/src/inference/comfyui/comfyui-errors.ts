import { z } from 'zod';
import { InferenceError } from '../inference-backend';
import { type WorkflowTemplate, describeNode } from './workflow-template';

/** Keeps messages (stored in the job status) readable, and bounds whatever the server echoes. */
const MAX_MESSAGE_CHARS = 500;

/**
 * Messages end up in the job status and logs. ComfyUI echoes input values in its errors, and ours carry
 * base64 face images (SPEC §9): long base64 runs are cut out before anything else is done with the text.
 */
export function bounded(message: string): string {
  const redacted = message.replace(/[A-Za-z0-9+/=]{100,}/g, '<base64 elided>').trim();
  return redacted.length > MAX_MESSAGE_CHARS ? `${redacted.slice(0, MAX_MESSAGE_CHARS - 1)}…` : redacted;
}

const Reason = z.looseObject({
  type: z.string().optional(),
  message: z.string().optional(),
  details: z.unknown().optional(),
});
const PromptRefusal = z.looseObject({
  error: z.union([z.string(), Reason]).optional(),
  node_errors: z
    .record(
      z.string(),
      z.looseObject({ errors: z.array(Reason).default([]), class_type: z.string().optional() }),
    )
    .optional(),
});

const reasonText = (reason: z.infer<typeof Reason>) =>
  [reason.message, typeof reason.details === 'string' ? reason.details : undefined]
    .filter(Boolean)
    .join(': ');

/**
 * A 400 from POST /prompt: ComfyUI validated the bound workflow and refused it, naming nodes and reasons
 * (`value_not_in_list` for a checkpoint the server lacks, `value_bigger_than_max`…). That is the job's or the
 * profile's input, so INPUT_INVALID, except a node class the server no longer has (`invalid_prompt`): the
 * server changed under us and another endpoint may still run it.
 */
export function promptRefused(
  template: WorkflowTemplate,
  host: string,
  json: unknown,
  text: string,
): InferenceError {
  const parsed = PromptRefusal.safeParse(json);
  if (!parsed.success)
    return new InferenceError(
      'INPUT_INVALID',
      bounded(`comfyui at ${host} refused ${template.file}: ${text || '(empty body)'}`),
    );
  const { error, node_errors: nodeErrors = {} } = parsed.data;
  const perNode = Object.entries(nodeErrors).map(
    ([nodeId, entry]) =>
      `${describeNode(template.nodes, nodeId)}: ${entry.errors.map(reasonText).join('; ') || 'invalid'}`,
  );
  const summary = typeof error === 'string' ? error : error ? reasonText(error) : '';
  const code =
    typeof error === 'object' && error.type === 'invalid_prompt' ? 'MODEL_UNAVAILABLE' : 'INPUT_INVALID';
  const detail = perNode.length ? perNode.join('; ') : summary;
  return new InferenceError(
    code,
    bounded(`comfyui at ${host} refused ${template.file}: ${detail || 'no reason given'}`),
  );
}

export const ExecutionErrorData = z.looseObject({
  prompt_id: z.string().optional(),
  node_id: z.union([z.string(), z.number()]).optional(),
  node_type: z.string().optional(),
  exception_message: z.string().optional(),
  exception_type: z.string().optional(),
});

/** Face detectors' ways of saying the picture has no usable face: the input's fault, retrying cannot help. */
const NO_FACE = /no face|face(s)? (was |were )?not (be )?detected|could not (detect|find) (a |any )?face/i;

/**
 * An `execution_error` (or its copy in the history): the node that failed and the exception it raised;
 * `traceback` and `current_inputs` are never read (the inputs hold the base64 images). A failure in a node
 * that decodes one of the job's images, or a detector finding no face, is INPUT_INVALID; anything else
 * (out of memory, a missing model file, a node bug) is MODEL_ERROR, which is retried.
 */
export function executionFailed(template: WorkflowTemplate, data: unknown): InferenceError {
  const parsed = ExecutionErrorData.safeParse(data);
  const info = parsed.success ? parsed.data : {};
  const nodeId = info.node_id === undefined ? undefined : String(info.node_id);
  const where =
    nodeId === undefined ? template.file : `${template.file} ${describeNode(template.nodes, nodeId)}`;
  const exception =
    [info.exception_type, info.exception_message?.trim()].filter(Boolean).join(': ') || 'no message';
  const imageNodes = new Set(template.placeholders.filter((p) => p.field === 'image').map((p) => p.nodeId));
  const inputsFault =
    (nodeId !== undefined && imageNodes.has(nodeId)) || NO_FACE.test(info.exception_message ?? '');
  return new InferenceError(
    inputsFault ? 'INPUT_INVALID' : 'MODEL_ERROR',
    bounded(`comfyui failed at ${where}: ${exception}`),
  );
}
