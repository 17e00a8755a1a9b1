import { type InferenceRequest, InferenceError } from '../inference-backend';
import { type CheckedTemplate, type InputKind, inputKey } from './object-info';
import { type ApiWorkflow, type Placeholder, describeNode, isLink } from './workflow-template';

type Request = Pick<
  InferenceRequest,
  | 'prompt'
  | 'negativePrompt'
  | 'seed'
  | 'steps'
  | 'guidance'
  | 'width'
  | 'height'
  | 'adapter'
  | 'images'
  | 'options'
>;

/**
 * The prompt graph for one job: every placeholder replaced by the job's value (or its fallback), coerced to
 * the input's type; each LoRA slot repeated once per LoRA, or bypassed.
 * Throws INPUT_INVALID naming the template, node and field when the job lacks a value the template needs.
 */
export function bindWorkflow(checked: CheckedTemplate, request: Request): ApiWorkflow {
  const { template } = checked;
  const nodes: ApiWorkflow = structuredClone(template.nodes);
  const slotPlaceholders = new Set(template.loraSlots);

  for (const placeholder of template.placeholders) {
    if (slotPlaceholders.has(placeholder.nodeId) && placeholder.field.startsWith('lora_')) continue;
    const kind = checked.kinds.get(inputKey(placeholder.nodeId, placeholder.input)) ?? 'STRING';
    nodes[placeholder.nodeId]!.inputs[placeholder.input] = valueFor(
      placeholder,
      kind,
      request,
      template.file,
      nodes,
    );
  }

  for (const slotId of template.loraSlots)
    expandLoraSlot(nodes, checked, slotId, request.adapter?.loras ?? []);
  return nodes;
}

function valueFor(
  p: Placeholder,
  kind: InputKind,
  request: Request,
  file: string,
  nodes: ApiWorkflow,
): unknown {
  const where = `${file} ${describeNode(nodes, p.nodeId)} input "${p.input}"`;
  let value: unknown;
  switch (p.field) {
    case 'prompt':
      value = request.prompt;
      break;
    case 'negative_prompt':
      value = request.negativePrompt ?? p.fallback ?? '';
      break;
    case 'seed':
      value = request.seed;
      break;
    case 'steps':
      value = request.steps;
      break;
    case 'cfg':
      value = request.guidance;
      break;
    case 'width':
      value = request.width;
      break;
    case 'height':
      value = request.height;
      break;
    case 'checkpoint':
      value = request.adapter?.model;
      break;
    case 'identity_strength':
      value = request.adapter?.identity_strength;
      break;
    case 'image': {
      // Bare base64, no data: prefix: ETN_LoadImageBase64 does not strip one (notes/identity-backends.md §3a).
      const image = request.images[p.key];
      if (!image)
        throw new InferenceError(
          'INPUT_INVALID',
          `${where} needs the request's ${p.key} image, which this job does not carry`,
        );
      return image.data.toString('base64');
    }
    case 'option':
      value = request.options[p.key];
      break;
    case 'extra':
      value = request.adapter?.extra?.[p.key];
      break;
    case 'lora_name':
    case 'lora_weight':
      throw new Error('LoRA placeholders are bound by expandLoraSlot');
  }
  const label = p.key ? `${p.field}:${p.key}` : p.field;
  if (value === undefined || value === null) {
    if (p.fallback === undefined)
      throw new InferenceError(
        'INPUT_INVALID',
        `${where} needs {{${label}}}, which this job does not set and the template gives no |fallback for`,
      );
    value = p.fallback;
  }
  return coerce(value, kind, `${where} ({{${label}}})`);
}

/** ComfyUI converts widget values itself, but a fallback is text and a job value may be of another type. */
function coerce(value: unknown, kind: InputKind, where: string): unknown {
  switch (kind) {
    case 'INT':
    case 'FLOAT': {
      const number = typeof value === 'number' ? value : Number(String(value).trim());
      if (!Number.isFinite(number) || (typeof value === 'string' && value.trim() === ''))
        throw new InferenceError('INPUT_INVALID', `${where}: ${JSON.stringify(value)} is not a number`);
      return kind === 'INT' ? Math.round(number) : number;
    }
    case 'BOOLEAN':
      return (
        value === true ||
        (typeof value === 'string' && ['true', '1', 'yes', 'on'].includes(value.toLowerCase()))
      );
    case 'STRING':
      if (typeof value === 'string') return value;
      return typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
    default:
      // A combo's choices are usually names; a number from a fallback stays text, as ComfyUI's UI would send it.
      return value;
  }
}

/**
 * A LoRA slot is one loader node (`LoraLoader`, `LoraLoaderModelOnly`, …) holding `{{lora_name}}`. With no
 * LoRA it is removed and its consumers are linked to what fed it; with n LoRAs it becomes a chain of n copies,
 * each fed by the previous one, and its consumers read the last copy.
 */
function expandLoraSlot(
  nodes: ApiWorkflow,
  checked: CheckedTemplate,
  slotId: string,
  loras: ReadonlyArray<{ name: string; weight: number }>,
) {
  const passThrough = checked.passThrough.get(slotId) ?? [];
  const slot = nodes[slotId]!;
  if (loras.length && checked.missingSlots.has(slotId))
    throw new InferenceError(
      'MODEL_UNAVAILABLE',
      `${checked.template.file} ${describeNode(nodes, slotId)}: this server has no ${slot.class_type}, so the profile's LoRAs cannot be applied here`,
    );
  const placeholders = checked.template.placeholders.filter(
    (p) => p.nodeId === slotId && p.field.startsWith('lora_'),
  );
  const upstream = passThrough.map((input) => slot.inputs[input] as [string, number]);

  const ids = loras.map((_, k) => (k === 0 ? slotId : `${slotId}_lora${k}`));
  const original = structuredClone(slot);
  loras.forEach((lora, k) => {
    const copy = k === 0 ? slot : structuredClone(original);
    for (const p of placeholders) {
      const kind = checked.kinds.get(inputKey(slotId, p.input)) ?? 'STRING';
      copy.inputs[p.input] = coerce(
        p.field === 'lora_name' ? lora.name : lora.weight,
        kind,
        `LoRA ${lora.name}`,
      );
    }
    if (k > 0) passThrough.forEach((input, output) => (copy.inputs[input] = [ids[k - 1]!, output]));
    const title = original._meta?.title;
    if (title && loras.length > 1)
      copy._meta = { ...copy._meta, title: `${title} (${k + 1}/${loras.length})` };
    nodes[ids[k]!] = copy;
  });

  const last = ids.at(-1);
  if (last === undefined) delete nodes[slotId];
  for (const [id, node] of Object.entries(nodes)) {
    if (ids.includes(id)) continue;
    for (const [input, value] of Object.entries(node.inputs)) {
      if (!isLink(value) || value[0] !== slotId) continue;
      node.inputs[input] = last === undefined ? [...upstream[value[1]]!] : [last, value[1]];
    }
  }
}
