import { makeRequest } from '@castforge/testkit/comfyui-kit';
import { stubNodeCatalogue } from '@castforge/testkit/comfyui-stub-nodes';
import { InferenceError } from '../inference-backend';
import { type CheckedTemplate, checkTemplate, parseObjectInfo } from './object-info';
import { bindWorkflow } from './workflow-binding';
import { TemplateError, parseWorkflowTemplate } from './workflow-template';

const specs = parseObjectInfo(JSON.parse(JSON.stringify(stubNodeCatalogue())));

function checked(nodes: Record<string, unknown>, file = 'generate.json'): CheckedTemplate {
  const result = checkTemplate(parseWorkflowTemplate(file, 'generate', JSON.stringify(nodes)), specs);
  if (!result.checked) throw new Error(result.problems.join('\n'));
  return result.checked;
}

function problems(nodes: unknown): string[] {
  try {
    parseWorkflowTemplate(
      'generate.json',
      'generate',
      typeof nodes === 'string' ? nodes : JSON.stringify(nodes),
    );
  } catch (err) {
    if (err instanceof TemplateError) return err.problems;
    throw err;
  }
  return [];
}

const output = { class_type: 'SaveImageWebsocket', inputs: { images: ['2', 0] } };
const latent = (inputs: Record<string, unknown>) => ({
  '1': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1, ...inputs } },
  '2': { class_type: 'VAEDecode', inputs: { samples: ['1', 0], vae: ['4', 2] } },
  '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'sd_xl_base_1.0.safetensors' } },
  '9': output,
});

describe('workflow templates: placeholders', () => {
  it('refuses a placeholder inside a longer text, an unknown name, a key where none belongs and a missing key', () => {
    const found = problems({
      '1': {
        class_type: 'EmptyLatentImage',
        inputs: { width: '{{width}} px', height: '{{hieght}}', batch_size: '{{seed:x}}' },
      },
      '3': { class_type: 'ETN_LoadImageBase64', inputs: { image: '{{image}}' } },
      '9': output,
      '2': { class_type: 'VAEDecode', inputs: { samples: ['1', 0], vae: ['7', 2] } },
    });

    expect(found).toEqual([
      'generate.json node 1 (EmptyLatentImage) input "width": "{{width}} px" is not a placeholder: one {{field}} must be the whole value',
      expect.stringContaining(
        'generate.json node 1 (EmptyLatentImage) input "height": unknown placeholder {{hieght}}; known: prompt,',
      ),
      'generate.json node 1 (EmptyLatentImage) input "batch_size": {{seed}} takes no key',
      'generate.json node 2 (VAEDecode) input "vae": links to node 7, which is not in the file',
      'generate.json node 3 (ETN_LoadImageBase64) input "image": {{image}} needs a key, e.g. {{image:input_image}}',
    ]);
  });

  it('says how to export a UI-format workflow, and names a file that is not JSON', () => {
    expect(problems({ nodes: [], links: [] })).toEqual([
      expect.stringContaining('is a UI workflow; save it with "Export (API)"'),
    ]);
    expect(problems('{ nope')).toEqual([expect.stringMatching(/^generate\.json: not JSON/)]);
  });
});

describe('workflow templates: binding a job', () => {
  it('coerces values and |fallbacks to the input’s type', () => {
    const template = checked({
      ...latent({ width: '{{option:width|72}}', height: '{{extra:height|80.6}}' }),
      '5': { class_type: 'CLIPTextEncode', inputs: { text: '{{seed}}', clip: ['4', 1] } },
      '6': {
        class_type: 'ImageScaleBy',
        inputs: { image: ['2', 0], upscale_method: 'lanczos', scale_by: '{{identity_strength|1.5}}' },
      },
    });

    const prompt = bindWorkflow(template, makeRequest({ seed: 31, adapter: { extra: { height: '88' } } }));

    expect(prompt['1']!.inputs).toMatchObject({ width: 72, height: 88 });
    expect(prompt['5']!.inputs.text).toBe('31');
    expect(prompt['6']!.inputs.scale_by).toBe(1.5);
  });

  it('a value that is not a number for a number input is INPUT_INVALID naming the node and placeholder', () => {
    const template = checked(latent({ width: '{{option:width}}' }));

    const bind = () => bindWorkflow(template, makeRequest({ options: { width: 'wide' } }));

    expect(bind).toThrow(InferenceError);
    expect(bind).toThrow(
      'generate.json node 1 (EmptyLatentImage) input "width" ({{option:width}}): "wide" is not a number',
    );
  });

  it('a field without value or fallback is INPUT_INVALID', () => {
    const template = checked(latent({}));
    const withCheckpoint = checked({
      ...latent({}),
      '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: '{{checkpoint}}' } },
    });

    expect(() => bindWorkflow(template, makeRequest())).not.toThrow();
    expect(() => bindWorkflow(withCheckpoint, makeRequest())).toThrow(
      'generate.json node 4 (CheckpointLoaderSimple) input "ckpt_name" needs {{checkpoint}}, which this job does not set and the template gives no |fallback for',
    );
  });

  it('repeats a model-only LoRA slot once per LoRA, chained in order, and leaves the template untouched', () => {
    const template = checked({
      '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'sd_xl_base_1.0.safetensors' } },
      '8': {
        class_type: 'LoraLoader',
        inputs: {
          model: ['4', 0],
          clip: ['4', 1],
          lora_name: '{{lora_name}}',
          strength_model: '{{lora_weight}}',
          strength_clip: 1,
        },
        _meta: { title: 'LoRA' },
      },
      '1': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } },
      '3': {
        class_type: 'KSampler',
        inputs: {
          model: ['8', 0],
          seed: 1,
          steps: 1,
          cfg: 1,
          sampler_name: 'euler',
          scheduler: 'normal',
          positive: ['5', 0],
          negative: ['5', 0],
          latent_image: ['1', 0],
          denoise: 1,
        },
      },
      '5': { class_type: 'CLIPTextEncode', inputs: { text: 'x', clip: ['8', 1] } },
      '2': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
      '9': output,
    });
    const loras = ['a', 'b', 'c'].map((name, i) => ({ name: `${name}.safetensors`, weight: i / 10 }));

    const prompt = bindWorkflow(template, makeRequest({ adapter: { loras } }));

    expect(Object.keys(prompt).filter((id) => prompt[id]!.class_type === 'LoraLoader')).toEqual([
      '8',
      '8_lora1',
      '8_lora2',
    ]);
    expect(prompt['8_lora2']!.inputs).toMatchObject({
      lora_name: 'c.safetensors',
      strength_model: 0.2,
      model: ['8_lora1', 0],
      clip: ['8_lora1', 1],
    });
    expect(prompt['8_lora2']!._meta?.title).toBe('LoRA (3/3)');
    expect(prompt['3']!.inputs.model).toEqual(['8_lora2', 0]);
    expect(prompt['5']!.inputs.clip).toEqual(['8_lora2', 1]);
    expect(template.template.nodes['8']!.inputs.lora_name).toBe('{{lora_name}}');
  });

  it('a LoRA slot without a linked input to pass an output through is refused at start-up', () => {
    const slot = parseWorkflowTemplate(
      'generate.json',
      'generate',
      JSON.stringify({
        ...latent({}),
        '8': {
          class_type: 'LoraLoader',
          inputs: {
            model: ['4', 0],
            clip: ['4', 1],
            lora_name: '{{lora_name}}',
            strength_model: 1,
            strength_clip: 1,
          },
        },
        '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'sd_xl_base_1.0.safetensors' } },
      }),
    );
    const noClip = {
      ...slot,
      nodes: {
        ...slot.nodes,
        '8': { ...slot.nodes['8']!, inputs: { ...slot.nodes['8']!.inputs, clip: 'x' } },
      },
    };

    expect(checkTemplate(noClip, specs).problems).toContain(
      'generate.json node 8 (LoraLoader): a LoRA slot must pass its CLIP output through from a linked CLIP input (it is bypassed when a profile has no LoRA)',
    );
  });
});
