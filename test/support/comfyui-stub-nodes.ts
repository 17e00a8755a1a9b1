/** The node catalogue of the ComfyUI stub, as GET /object_info describes nodes (server.py node_info). */

export type InputEntry = [unknown, Record<string, unknown>?];
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
    node(
      'ImageCompositeMasked',
      {
        destination: link('IMAGE'),
        source: link('IMAGE'),
        x: INT(0, 16384, 0),
        y: INT(0, 16384, 0),
        resize_source: ['BOOLEAN', { default: false }],
      },
      ['IMAGE'],
      { optional: { mask: link('MASK') } },
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
