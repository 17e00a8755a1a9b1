import { z } from 'zod';
import { nodePackOf } from './node-packs';
import { type WorkflowTemplate, WEBSOCKET_OUTPUT_CLASSES, describeNode, isLink } from './workflow-template';

/** How a placeholder's value is written into an input: the widget types ComfyUI converts, or a link. */
export type InputKind = 'INT' | 'FLOAT' | 'STRING' | 'BOOLEAN' | 'COMBO' | 'LINK';

interface InputSpec {
  kind: InputKind;
  /** `INT`, `COMBO`, or the link type (`MODEL`, `IMAGE`, `A,B` unions, `*`). */
  type: string;
  required: boolean;
  options?: readonly unknown[];
}

export interface NodeSpec {
  inputs: ReadonlyMap<string, InputSpec>;
  outputs: readonly string[];
  outputNode: boolean;
}

/** `[type, options?]`; type is a name, or the list of a combo's choices in older nodes. */
const InputEntry = z.array(z.unknown()).min(1);
const NodeInfo = z.looseObject({
  input: z
    .looseObject({
      required: z.record(z.string(), InputEntry).optional(),
      optional: z.record(z.string(), InputEntry).optional(),
    })
    .optional(),
  output: z.array(z.unknown()).optional(),
  output_node: z.boolean().optional(),
});

const WIDGET_KINDS: ReadonlySet<string> = new Set(['INT', 'FLOAT', 'STRING', 'BOOLEAN', 'COMBO']);

function inputSpec(entry: unknown[], required: boolean): InputSpec {
  const [type, options] = entry;
  if (Array.isArray(type)) return { kind: 'COMBO', type: 'COMBO', required, options: type };
  const name = typeof type === 'string' ? type : 'UNKNOWN';
  if (name === 'COMBO') {
    const choices = (options as { options?: unknown } | undefined)?.options;
    return { kind: 'COMBO', type: name, required, ...(Array.isArray(choices) && { options: choices }) };
  }
  return { kind: WIDGET_KINDS.has(name) ? (name as InputKind) : 'LINK', type: name, required };
}

/**
 * GET /object_info, read leniently: each node is parsed on its own, so one custom node with an odd schema
 * does not hide all the others; a node that cannot be read counts as not installed.
 */
export function parseObjectInfo(json: unknown): Map<string, NodeSpec> {
  const specs = new Map<string, NodeSpec>();
  const all = z.record(z.string(), z.unknown()).safeParse(json);
  if (!all.success) return specs;
  for (const [classType, raw] of Object.entries(all.data)) {
    const info = NodeInfo.safeParse(raw);
    if (!info.success) continue;
    const inputs = new Map<string, InputSpec>();
    for (const [name, entry] of Object.entries(info.data.input?.optional ?? {}))
      inputs.set(name, inputSpec(entry, false));
    for (const [name, entry] of Object.entries(info.data.input?.required ?? {}))
      inputs.set(name, inputSpec(entry, true));
    const outputs = (info.data.output ?? []).map((type) => (typeof type === 'string' ? type : 'COMBO'));
    specs.set(classType, { inputs, outputs, outputNode: info.data.output_node === true });
  }
  return specs;
}

/** A template checked against one server: what the binder needs to write values of the right type. */
export interface CheckedTemplate {
  template: WorkflowTemplate;
  /** The kind of each input a placeholder fills, keyed by `inputKey(nodeId, input)`. */
  kinds: ReadonlyMap<string, InputKind>;
  /** Per LoRA slot, by output index: the input whose upstream link replaces that output when there is no LoRA. */
  passThrough: ReadonlyMap<string, readonly string[]>;
  /** LoRA slots whose loader class this server lacks: bypassed, and a job with LoRAs cannot run here. */
  missingSlots: ReadonlySet<string>;
}

export const inputKey = (nodeId: string, input: string) => `${nodeId}\u0000${input}`;

/** Link types match as ComfyUI matches them: `*` takes anything, `A,B` is a union. */
function typesMatch(received: string, expected: string): boolean {
  if (received === '*' || expected === '*') return true;
  const want = new Set(expected.split(','));
  return received.split(',').some((type) => want.has(type));
}

/**
 * Checks a template against a server's nodes: every class installed, every input known and of a kind the
 * template can fill, every required input set, links pointing at real outputs of the right type, and no
 * output node besides the websocket one (ComfyUI runs every output node; the others write files).
 * `problems` stop start-up; `warnings` (a literal model name the server does not list) only get logged,
 * since a profile may name its own checkpoint.
 */
export function checkTemplate(
  template: WorkflowTemplate,
  specs: ReadonlyMap<string, NodeSpec>,
): { checked?: CheckedTemplate; problems: string[]; warnings: string[] } {
  const { file, nodes } = template;
  const problems: string[] = [];
  const warnings: string[] = [];
  const at = (nodeId: string, input?: string) =>
    `${file} ${describeNode(nodes, nodeId)}${input ? ` input "${input}"` : ''}`;
  const bound = new Map(template.placeholders.map((p) => [inputKey(p.nodeId, p.input), p]));
  const kinds = new Map<string, InputKind>();
  const missingSlots = new Set<string>();

  for (const [nodeId, node] of Object.entries(nodes)) {
    const spec = specs.get(node.class_type);
    if (!spec && template.loraSlots.includes(nodeId)) {
      // A LoRA slot is only sent when a profile has LoRAs: without its class the template still runs the rest.
      warnings.push(
        `${at(nodeId)}: node class ${node.class_type} is not installed; jobs whose profile has LoRAs cannot run on this server`,
      );
      missingSlots.add(nodeId);
      continue;
    }
    if (!spec) {
      const pack = nodePackOf(node.class_type);
      problems.push(
        `${at(nodeId)}: node class ${node.class_type} is not installed${pack ? ` (from ${pack})` : ''}`,
      );
      continue;
    }
    if (spec.outputNode && !WEBSOCKET_OUTPUT_CLASSES.has(node.class_type))
      problems.push(
        `${at(nodeId)}: is an output node; only the websocket output may be one (others write files)`,
      );
    for (const [input, value] of Object.entries(node.inputs)) {
      const want = spec.inputs.get(input);
      if (!want) {
        problems.push(
          `${at(nodeId, input)}: ${node.class_type} has no such input (it has ${[...spec.inputs.keys()].join(', ') || 'none'})`,
        );
        continue;
      }
      const placeholder = bound.get(inputKey(nodeId, input));
      if (placeholder) {
        if (want.kind === 'LINK')
          problems.push(
            `${at(nodeId, input)}: accepts only a link (${want.type}), not {{${placeholder.field}}}`,
          );
        else if (placeholder.field === 'image' && want.kind !== 'STRING')
          problems.push(
            `${at(nodeId, input)}: an image goes inline as base64 into a STRING input (ETN_LoadImageBase64.image), not ${want.type}`,
          );
        else kinds.set(inputKey(nodeId, input), want.kind);
      } else if (isLink(value)) {
        const source = nodes[value[0]];
        const sourceType = source && specs.get(source.class_type)?.outputs[value[1]];
        if (source && specs.has(source.class_type) && sourceType === undefined)
          problems.push(
            `${at(nodeId, input)}: links to output ${value[1]} of ${describeNode(nodes, value[0])}, which has ${specs.get(source.class_type)!.outputs.length} outputs`,
          );
        else if (sourceType && want.kind === 'LINK' && !typesMatch(sourceType, want.type))
          problems.push(`${at(nodeId, input)}: expects ${want.type} but is linked to a ${sourceType} output`);
      } else if (want.options?.length && !want.options.includes(value)) {
        warnings.push(
          `${at(nodeId, input)}: "${String(value)}" is not among the server's ${want.options.length} choices`,
        );
      }
    }
    for (const [input, want] of spec.inputs)
      if (want.required && !(input in node.inputs))
        problems.push(`${at(nodeId, input)}: required by ${node.class_type} but not set`);
  }

  const passThrough = new Map<string, string[]>();
  for (const slotId of template.loraSlots) {
    const slot = nodes[slotId]!;
    const spec = specs.get(slot.class_type);
    if (!spec) {
      const inferred = passThroughFromConsumers(template, specs, slotId);
      if (typeof inferred === 'string') problems.push(`${at(slotId)}: ${inferred}`);
      else passThrough.set(slotId, inferred);
      continue;
    }
    const byOutput = spec.outputs.map((type) =>
      Object.keys(slot.inputs).find(
        (input) => isLink(slot.inputs[input]) && spec.inputs.get(input)?.type === type,
      ),
    );
    const missing = byOutput.findIndex((input) => input === undefined);
    if (missing >= 0)
      problems.push(
        `${at(slotId)}: a LoRA slot must pass its ${spec.outputs[missing]} output through from a linked ${spec.outputs[missing]} input (it is bypassed when a profile has no LoRA)`,
      );
    else passThrough.set(slotId, byOutput as string[]);
  }

  if (problems.length) return { problems, warnings };
  return { checked: { template, kinds, passThrough, missingSlots }, problems, warnings };
}

/**
 * The pass-through of a slot whose class the server lacks, read from the graph around it: each consumer of
 * the slot's output i expects a type, and the slot's input linked to an output of that type feeds it.
 */
function passThroughFromConsumers(
  template: WorkflowTemplate,
  specs: ReadonlyMap<string, NodeSpec>,
  slotId: string,
): string[] | string {
  const { nodes } = template;
  const slot = nodes[slotId]!;
  const typeFedTo = (input: string) => {
    const value = slot.inputs[input];
    const source = isLink(value) ? nodes[value[0]] : undefined;
    return source && isLink(value) ? specs.get(source.class_type)?.outputs[value[1]] : undefined;
  };
  const byOutput: string[] = [];
  for (const node of Object.values(nodes)) {
    for (const [input, value] of Object.entries(node.inputs)) {
      if (!isLink(value) || value[0] !== slotId) continue;
      const want = specs.get(node.class_type)?.inputs.get(input)?.type;
      const from = Object.keys(slot.inputs).find((name) => {
        const type = typeFedTo(name);
        return want !== undefined && type !== undefined && typesMatch(type, want);
      });
      if (from === undefined)
        return `cannot tell which input of this LoRA slot feeds ${node.class_type}.${input}`;
      byOutput[value[1]] = from;
    }
  }
  return byOutput;
}
