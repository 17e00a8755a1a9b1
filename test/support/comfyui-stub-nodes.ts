/**
 * The node catalogue of the ComfyUI stub, as GET /object_info describes nodes (server.py node_info), and the
 * stub's version of execution.py validate_prompt: the same error types, messages and node_errors shape, for
 * the checks a client can trip (unknown class, missing required input, bad link, type mismatch, conversion,
 * min/max, value not in a combo's list).
 */

type InputEntry = [unknown, Record<string, unknown>?];
export interface StubNodeInfo {
  input: {
    required?: Record<string, InputEntry>;
    optional?: Record<string, InputEntry>;
    hidden?: Record<string, unknown>;
  };
  input_order: Record<string, string[]>;
  output: string[];
  output_is_list: boolean[];
  output_name: string[];
  name: string;
  display_name: string;
  description: string;
  python_module: string;
  category: string;
  output_node: boolean;
}

const INT = (min: number, max: number, def = min): InputEntry => ['INT', { default: def, min, max }];
const FLOAT = (min: number, max: number, def = min): InputEntry => [
  'FLOAT',
  { default: def, min, max, step: 0.01 },
];
const STRING: InputEntry = ['STRING', { multiline: false }];
const link = (type: string): InputEntry => [type, {}];

function node(
  name: string,
  required: Record<string, InputEntry>,
  output: string[],
  extra: {
    optional?: Record<string, InputEntry>;
    outputNode?: boolean;
    names?: string[];
    module?: string;
  } = {},
): StubNodeInfo {
  const input = { required, ...(extra.optional && { optional: extra.optional }) };
  return {
    input,
    input_order: Object.fromEntries(Object.entries(input).map(([key, value]) => [key, Object.keys(value)])),
    output,
    output_is_list: output.map(() => false),
    output_name: extra.names ?? output,
    name,
    display_name: name,
    description: '',
    python_module: extra.module ?? 'nodes',
    category: 'stub',
    output_node: extra.outputNode ?? false,
  };
}

export const STUB_CHECKPOINTS = ['sd_xl_base_1.0.safetensors', 'juggernautXL_v9.safetensors'];
export const STUB_LORAS = ['keeper_face.safetensors', 'film_grain.safetensors'];
const SAMPLERS = ['euler', 'euler_ancestral', 'dpmpp_2m', 'ddpm'];
const SCHEDULERS = ['normal', 'karras', 'simple'];

/** Core nodes, the websocket output node, comfyui-tooling-nodes and ComfyUI_InstantID. */
export function stubNodeCatalogue(): Record<string, StubNodeInfo> {
  const nodes = [
    node('CheckpointLoaderSimple', { ckpt_name: [STUB_CHECKPOINTS, {}] }, ['MODEL', 'CLIP', 'VAE']),
    node(
      'LoraLoader',
      {
        model: link('MODEL'),
        clip: link('CLIP'),
        lora_name: [STUB_LORAS, {}],
        strength_model: FLOAT(-100, 100, 1),
        strength_clip: FLOAT(-100, 100, 1),
      },
      ['MODEL', 'CLIP'],
    ),
    node(
      'CLIPTextEncode',
      { text: ['STRING', { multiline: true, dynamicPrompts: true }], clip: link('CLIP') },
      ['CONDITIONING'],
    ),
    node(
      'EmptyLatentImage',
      { width: INT(16, 16384, 512), height: INT(16, 16384, 512), batch_size: INT(1, 4096, 1) },
      ['LATENT'],
    ),
    node(
      'KSampler',
      {
        model: link('MODEL'),
        seed: INT(0, Number.MAX_SAFE_INTEGER, 0),
        steps: INT(1, 10000, 20),
        cfg: FLOAT(0, 100, 8),
        sampler_name: [SAMPLERS, {}],
        scheduler: [SCHEDULERS, {}],
        positive: link('CONDITIONING'),
        negative: link('CONDITIONING'),
        latent_image: link('LATENT'),
        denoise: FLOAT(0, 1, 1),
      },
      ['LATENT'],
    ),
    node('VAEDecode', { samples: link('LATENT'), vae: link('VAE') }, ['IMAGE']),
    node(
      'ImageScaleBy',
      {
        image: link('IMAGE'),
        upscale_method: [['nearest-exact', 'bilinear', 'lanczos'], {}],
        scale_by: FLOAT(0.01, 8, 1),
      },
      ['IMAGE'],
    ),
    node('SaveImage', { images: link('IMAGE'), filename_prefix: ['STRING', { default: 'ComfyUI' }] }, [], {
      outputNode: true,
    }),
    node('PreviewImage', { images: link('IMAGE') }, [], { outputNode: true }),
    node(
      'SaveLatent',
      { samples: link('LATENT'), filename_prefix: ['STRING', { default: 'latents/ComfyUI' }] },
      [],
      {
        outputNode: true,
      },
    ),
    node('LoadImage', { image: [['example.png'], { image_upload: true }] }, ['IMAGE', 'MASK']),
    node('ControlNetLoader', { control_net_name: [['instantid/diffusion_pytorch_model.safetensors'], {}] }, [
      'CONTROL_NET',
    ]),
    node('SaveImageWebsocket', { images: link('IMAGE') }, [], {
      outputNode: true,
      module: 'custom_nodes.websocket_image_save',
    }),
    node('ETN_LoadImageBase64', { image: STRING }, ['IMAGE', 'MASK'], {
      names: ['image', 'mask'],
      module: 'custom_nodes.comfyui-tooling-nodes',
    }),
    node('ETN_LoadMaskBase64', { mask: STRING }, ['MASK'], { module: 'custom_nodes.comfyui-tooling-nodes' }),
    node(
      'ETN_SendImageWebSocket',
      { images: link('IMAGE'), format: ['COMBO', { options: ['PNG', 'JPEG'], default: 'PNG' }] },
      [],
      { outputNode: true, module: 'custom_nodes.comfyui-tooling-nodes' },
    ),
    node('InstantIDModelLoader', { instantid_file: [['ip-adapter.bin'], {}] }, ['INSTANTID'], {
      module: 'custom_nodes.ComfyUI_InstantID',
    }),
    node('InstantIDFaceAnalysis', { provider: [['CPU', 'CUDA', 'ROCM', 'CoreML'], {}] }, ['FACEANALYSIS'], {
      module: 'custom_nodes.ComfyUI_InstantID',
    }),
    node(
      'ApplyInstantID',
      {
        instantid: link('INSTANTID'),
        insightface: link('FACEANALYSIS'),
        control_net: link('CONTROL_NET'),
        image: link('IMAGE'),
        model: link('MODEL'),
        positive: link('CONDITIONING'),
        negative: link('CONDITIONING'),
        weight: FLOAT(0, 5, 0.8),
        start_at: FLOAT(0, 1, 0),
        end_at: FLOAT(0, 1, 1),
      },
      ['MODEL', 'CONDITIONING', 'CONDITIONING'],
      {
        optional: { image_kps: link('IMAGE'), mask: link('MASK') },
        names: ['MODEL', 'positive', 'negative'],
        module: 'custom_nodes.ComfyUI_InstantID',
      },
    ),
  ];
  return Object.fromEntries(nodes.map((info) => [info.name, info]));
}

export type ApiPrompt = Record<string, { class_type?: unknown; inputs?: Record<string, unknown> }>;
interface Reason {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}
export type NodeErrors = Record<
  string,
  { errors: Reason[]; dependent_outputs: string[]; class_type: string }
>;
export type Validation =
  { ok: true; outputs: string[] } | { ok: false; error: Reason; nodeErrors: NodeErrors };

export const isLink = (value: unknown): value is [string, number] =>
  Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'number';

/** execution.validate_prompt, for the cases above. Converts INT/FLOAT/STRING values in place, as ComfyUI does. */
export function validatePrompt(prompt: ApiPrompt, catalogue: Record<string, StubNodeInfo>): Validation {
  const outputs: string[] = [];
  for (const [id, entry] of Object.entries(prompt)) {
    if (typeof entry.class_type !== 'string')
      return fail({
        type: 'invalid_prompt',
        message: 'Cannot execute because a node is missing the class_type property.',
        details: `Node ID '#${id}'`,
        extra_info: {},
      });
    const info = catalogue[entry.class_type];
    if (!info)
      return fail({
        type: 'invalid_prompt',
        message: `Cannot execute because node ${entry.class_type} does not exist.`,
        details: `Node ID '#${id}'`,
        extra_info: {},
      });
    if (info.output_node) outputs.push(id);
  }
  if (!outputs.length)
    return fail({ type: 'prompt_no_outputs', message: 'Prompt has no outputs', details: '', extra_info: {} });

  const validated = new Map<string, { ok: boolean; reasons: Reason[] }>();
  const validate = (id: string): boolean => {
    const known = validated.get(id);
    if (known) return known.ok;
    const entry = prompt[id]!;
    const info = catalogue[entry.class_type as string]!;
    const inputs = (entry.inputs ??= {});
    const reasons: Reason[] = [];
    let ok = true;
    validated.set(id, { ok: true, reasons });
    const specs = { ...info.input.optional, ...info.input.required };
    const required = new Set(Object.keys(info.input.required ?? {}));
    for (const [name, [type, options = {}]] of Object.entries(specs)) {
      if (!(name in inputs)) {
        if (required.has(name))
          reasons.push({
            type: 'required_input_missing',
            message: 'Required input is missing',
            details: name,
            extra_info: { input_name: name },
          });
        continue;
      }
      const value = inputs[name];
      if (Array.isArray(value) && !isLink(value)) {
        reasons.push({
          type: 'bad_linked_input',
          message: 'Bad linked input, must be a length-2 list of [node_id, slot_index]',
          details: name,
          extra_info: { input_name: name },
        });
        continue;
      }
      if (isLink(value)) {
        const source = prompt[value[0]];
        const received = source && catalogue[source.class_type as string]?.output[value[1]];
        if (received === undefined) {
          reasons.push({
            type: 'exception_during_validation',
            message: 'Exception when validating inner node',
            details: `'${value[0]}'`,
            extra_info: { input_name: name },
          });
          continue;
        }
        if (typeof type === 'string' && received !== type && received !== '*' && type !== '*') {
          reasons.push({
            type: 'return_type_mismatch',
            message: 'Return type mismatch between linked nodes',
            details: `${name}, received_type(${received}) mismatch input_type(${type})`,
            extra_info: { input_name: name, received_type: received, linked_node: value },
          });
          continue;
        }
        if (!validate(value[0])) ok = false;
        continue;
      }
      const problem = checkValue(name, type, options, value, inputs);
      if (problem) reasons.push(problem);
    }
    const result = { ok: ok && reasons.length === 0, reasons };
    validated.set(id, result);
    return result.ok;
  };

  const good = outputs.filter((id) => validate(id));
  if (good.length) return { ok: true, outputs: good };
  const nodeErrors: NodeErrors = {};
  for (const [id, { reasons }] of validated) {
    if (!reasons.length) continue;
    nodeErrors[id] = {
      errors: reasons,
      dependent_outputs: outputs,
      class_type: prompt[id]!.class_type as string,
    };
  }
  const details = Object.values(nodeErrors)
    .flatMap((entry) => entry.errors.map((reason) => `${reason.message}: ${reason.details}`))
    .join('\n');
  return {
    ok: false,
    error: {
      type: 'prompt_outputs_failed_validation',
      message: 'Prompt outputs failed validation',
      details,
      extra_info: {},
    },
    nodeErrors,
  };
}

function checkValue(
  name: string,
  type: unknown,
  options: Record<string, unknown>,
  value: unknown,
  inputs: Record<string, unknown>,
): Reason | undefined {
  const extra = { input_name: name, received_value: value };
  if (type === 'INT' || type === 'FLOAT') {
    const number = typeof value === 'number' ? value : Number(value);
    if (typeof value === 'boolean' || value === null || value === '' || Number.isNaN(number))
      return {
        type: 'invalid_input_type',
        message: `Failed to convert an input value to a ${type} value`,
        details: `${name}, ${String(value)}, invalid literal`,
        extra_info: extra,
      };
    inputs[name] = type === 'INT' ? Math.trunc(number) : number;
    if (typeof options.min === 'number' && number < options.min)
      return {
        type: 'value_smaller_than_min',
        message: `Value ${number} smaller than min of ${options.min}`,
        details: name,
        extra_info: extra,
      };
    if (typeof options.max === 'number' && number > options.max)
      return {
        type: 'value_bigger_than_max',
        message: `Value ${number} bigger than max of ${options.max}`,
        details: name,
        extra_info: extra,
      };
    return undefined;
  }
  if (type === 'STRING') {
    inputs[name] = typeof value === 'string' ? value : JSON.stringify(value);
    return undefined;
  }
  const choices = Array.isArray(type)
    ? type
    : type === 'COMBO' && Array.isArray(options.options)
      ? options.options
      : undefined;
  if (choices && !choices.includes(value))
    return {
      type: 'value_not_in_list',
      message: 'Value not in list',
      details: `${name}: '${String(value)}' not in ${JSON.stringify(choices)}`,
      extra_info: extra,
    };
  return undefined;
}

const fail = (error: Reason): Validation => ({ ok: false, error, nodeErrors: {} });
