import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OperationName } from '@castforge/schemas';
import { z } from 'zod';

/**
 * Output nodes that hand the image to the websocket client and write nothing: the core `SaveImageWebsocket`
 * (custom_nodes/websocket_image_save.py) and `ETN_SendImageWebSocket` (Acly/comfyui-tooling-nodes).
 */
export const WEBSOCKET_OUTPUT_CLASSES: ReadonlySet<string> = new Set([
  'SaveImageWebsocket',
  'ETN_SendImageWebSocket',
]);

/** Core nodes that write the job's image to the output or temp folder: refused on sight (SPEC §9). */
const DISK_OUTPUT_CLASSES: ReadonlySet<string> = new Set(['SaveImage', 'PreviewImage']);

/** An input value `[source node id, output index]`: a link, not a widget value. */
export const isLink = (value: unknown): value is [string, number] =>
  Array.isArray(value) &&
  value.length === 2 &&
  typeof value[0] === 'string' &&
  typeof value[1] === 'number' &&
  Number.isInteger(value[1]);

const ApiNode = z.looseObject({
  class_type: z.string().min(1),
  inputs: z.record(z.string(), z.unknown()).default({}),
  _meta: z.looseObject({ title: z.string().optional() }).optional(),
});
export type ApiNode = z.infer<typeof ApiNode>;
/** ComfyUI's API format (the UI's "Export (API)"): node id → node. */
const ApiWorkflow = z.record(z.string(), ApiNode);
export type ApiWorkflow = z.infer<typeof ApiWorkflow>;

/** Job fields a placeholder can name without a key. */
const SIMPLE_FIELDS = [
  'prompt',
  'negative_prompt',
  'seed',
  'steps',
  'cfg',
  'width',
  'height',
  'checkpoint',
  'identity_strength',
  'lora_name',
  'lora_weight',
] as const;
/** Placeholders that take a key: `{{image:input_image}}`, `{{option:upscale}}`, `{{extra:sampler_name}}`. */
const KEYED_FIELDS = ['image', 'option', 'extra'] as const;
export type SimpleField = (typeof SIMPLE_FIELDS)[number];
export type KeyedField = (typeof KEYED_FIELDS)[number];

/** What a placeholder names: a job field, and the raw text after `|` used when the job has no value. */
type Binding = { fallback?: string } & (
  { field: SimpleField; key?: undefined } | { field: KeyedField; key: string }
);
export type Placeholder = Binding & { nodeId: string; input: string };

export interface WorkflowTemplate {
  operation: OperationName;
  /** File name, for messages: `lock.json`. */
  file: string;
  nodes: ApiWorkflow;
  placeholders: Placeholder[];
  /** The one websocket output node: its image is the job's result. */
  outputNodeId: string;
  /** Nodes holding `{{lora_name}}`: repeated once per LoRA of the profile, bypassed when it has none. */
  loraSlots: string[];
}

/** `{{name}}`, `{{name:key}}`, each optionally followed by `|fallback`; the whole input value, nothing else. */
const PLACEHOLDER = /^\{\{\s*([a-z_]+)(?::([A-Za-z0-9_.-]+))?\s*(?:\|([\s\S]*?))?\}\}$/;

/** `node 6 (KSampler "Sampler")`: what the operator sees in the UI and in the file. */
export function describeNode(nodes: ApiWorkflow, nodeId: string): string {
  const node = nodes[nodeId];
  if (!node) return `node ${nodeId}`;
  const title = node._meta?.title;
  return `node ${nodeId} (${node.class_type}${title && title !== node.class_type ? ` "${title}"` : ''})`;
}

/** Parses one template; every problem is named, with the file and node, in the thrown message's list. */
export function parseWorkflowTemplate(
  file: string,
  operation: OperationName,
  text: string,
): WorkflowTemplate {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new TemplateError([`${file}: not JSON (${err instanceof Error ? err.message : String(err)})`]);
  }
  if (typeof raw === 'object' && raw !== null && 'nodes' in raw && 'links' in raw) {
    throw new TemplateError([
      `${file}: is a UI workflow; save it with "Export (API)" (API format: node id → {class_type, inputs})`,
    ]);
  }
  const parsed = ApiWorkflow.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    throw new TemplateError([`${file}: not an API-format workflow${where}: ${issue?.message ?? 'invalid'}`]);
  }
  const nodes = parsed.data;
  const problems: string[] = [];
  const placeholders: Placeholder[] = [];
  const at = (nodeId: string, input?: string) =>
    `${file} ${describeNode(nodes, nodeId)}${input ? ` input "${input}"` : ''}`;

  for (const [nodeId, node] of Object.entries(nodes)) {
    if (DISK_OUTPUT_CLASSES.has(node.class_type))
      problems.push(`${at(nodeId)}: writes the image to disk on the GPU box; use SaveImageWebsocket`);
    for (const [input, value] of Object.entries(node.inputs)) {
      if (isLink(value)) {
        if (!nodes[value[0]])
          problems.push(`${at(nodeId, input)}: links to node ${value[0]}, which is not in the file`);
        continue;
      }
      if (typeof value !== 'string' || !value.includes('{{')) continue;
      const found = parsePlaceholder(value);
      if (typeof found === 'string') problems.push(`${at(nodeId, input)}: ${found}`);
      else placeholders.push({ ...found, nodeId, input });
    }
  }

  const outputs = Object.keys(nodes).filter((id) => WEBSOCKET_OUTPUT_CLASSES.has(nodes[id]!.class_type));
  if (outputs.length !== 1) {
    problems.push(
      `${file}: needs exactly one websocket output node (${[...WEBSOCKET_OUTPUT_CLASSES].join(' or ')}), found ${
        outputs.length ? outputs.map((id) => describeNode(nodes, id)).join(', ') : 'none'
      }`,
    );
  }

  const loraSlots = [...new Set(placeholders.filter((p) => p.field === 'lora_name').map((p) => p.nodeId))];
  for (const p of placeholders) {
    if (p.field === 'lora_weight' && !loraSlots.includes(p.nodeId))
      problems.push(`${at(p.nodeId, p.input)}: {{lora_weight}} belongs on the node that holds {{lora_name}}`);
  }

  if (problems.length) throw new TemplateError(problems);
  return { operation, file, nodes, placeholders, outputNodeId: outputs[0]!, loraSlots };
}

function parsePlaceholder(value: string): Binding | string {
  const match = PLACEHOLDER.exec(value);
  if (!match) return `"${value.slice(0, 60)}" is not a placeholder: one {{field}} must be the whole value`;
  const [, name = '', key, fallback] = match;
  const withFallback = fallback === undefined ? {} : { fallback };
  if ((KEYED_FIELDS as readonly string[]).includes(name)) {
    if (!key) return `{{${name}}} needs a key, e.g. {{${name}:${exampleKeys[name as KeyedField]}}}`;
    return { field: name as KeyedField, key, ...withFallback };
  }
  if ((SIMPLE_FIELDS as readonly string[]).includes(name)) {
    if (key) return `{{${name}}} takes no key`;
    if (name === 'lora_name' && fallback !== undefined) return '{{lora_name}} takes no fallback';
    return { field: name as SimpleField, ...withFallback };
  }
  return `unknown placeholder {{${name}}}; known: ${[...SIMPLE_FIELDS, ...KEYED_FIELDS.map((k) => `${k}:…`)].join(', ')}`;
}

const exampleKeys: Record<KeyedField, string> = {
  image: 'input_image',
  option: 'upscale',
  extra: 'sampler_name',
};

export class TemplateError extends Error {
  override name = 'TemplateError';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

/**
 * Reads COMFYUI_WORKFLOWS_DIR: one `<operation>.json` per operation the deployment runs. Files starting with
 * `_` or `.` and files not ending in `.json` are skipped (keep UI exports or notes there); any other name
 * must be an operation, so a typo (`faceswp.json`) stops start-up instead of silently disabling an endpoint.
 */
export function loadWorkflowTemplates(dir: string): Map<OperationName, WorkflowTemplate> {
  let files: string[];
  try {
    files = readdirSync(dir).sort();
  } catch (err) {
    throw new TemplateError([
      `COMFYUI_WORKFLOWS_DIR ${dir} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    ]);
  }
  const templates = new Map<OperationName, WorkflowTemplate>();
  const problems: string[] = [];
  for (const file of files) {
    if (!file.endsWith('.json') || file.startsWith('_') || file.startsWith('.')) continue;
    const operation = OperationName.safeParse(file.slice(0, -'.json'.length));
    if (!operation.success) {
      problems.push(
        `${file}: not an operation name; use one of ${OperationName.options.map((o) => `${o}.json`).join(', ')} (or prefix it with _ to skip it)`,
      );
      continue;
    }
    try {
      templates.set(
        operation.data,
        parseWorkflowTemplate(file, operation.data, readFileSync(join(dir, file), 'utf8')),
      );
    } catch (err) {
      if (err instanceof TemplateError) problems.push(...err.problems);
      else throw err;
    }
  }
  if (!problems.length && !templates.size)
    problems.push(`COMFYUI_WORKFLOWS_DIR ${dir} holds no workflow template (<operation>.json)`);
  if (problems.length) throw new TemplateError(problems);
  return templates;
}
