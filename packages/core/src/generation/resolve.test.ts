import { type AdapterSnapshot, MAX_SEED } from '@castforge/schemas';
import {
  DEFAULT_OUTPUT_FORMAT,
  DEFAULT_SIZE,
  joinPrompt,
  pickSeed,
  promptRequired,
  randomSeed,
  resolveGeneration,
} from './resolve';

const snapshot = (fields: Partial<AdapterSnapshot> = {}): AdapterSnapshot => ({
  prompt_template_mode: 'suffix',
  seed_strategy: 'random',
  ...fields,
});

const SEED_TEMPLATE =
  'Caucasian woman, late 20s, fair porcelain skin, blonde hair, blue eyes, light natural makeup, warm expression';

describe('joinPrompt', () => {
  it('joins the scene and the identity exactly as the seed example says: "<scene>, <identity>"', () => {
    expect(joinPrompt('<scene>', '<identity>', 'suffix')).toBe('<scene>, <identity>');
  });

  it('puts the seed profile identity after the scene in suffix mode', () => {
    expect(joinPrompt('standing on a beach at sunset', SEED_TEMPLATE, 'suffix')).toBe(
      `standing on a beach at sunset, ${SEED_TEMPLATE}`,
    );
  });

  it('puts the template before the prompt in prefix mode', () => {
    expect(joinPrompt('on a beach', 'a woman', 'prefix')).toBe('a woman, on a beach');
  });

  it('uses the template alone in replace mode, whatever the prompt says', () => {
    expect(joinPrompt('on a beach', 'a woman in a studio', 'replace')).toBe('a woman in a studio');
    expect(joinPrompt(undefined, 'a woman in a studio', 'replace')).toBe('a woman in a studio');
  });

  describe('trims whitespace and stray commas at the joining edges so the separator is never doubled', () => {
    it.each([
      ['a trailing comma on the prompt', 'on a beach,', 'a woman', 'on a beach, a woman'],
      ['a trailing comma and spaces on the prompt', 'on a beach ,  ', 'a woman', 'on a beach, a woman'],
      ['a leading comma on the template', 'on a beach', ', a woman', 'on a beach, a woman'],
      ['commas on both sides', 'on a beach, ,', ' ,, a woman', 'on a beach, a woman'],
      ['newlines and tabs at the edges', 'on a beach\n\t', '\n a woman', 'on a beach, a woman'],
      ['spaces around both parts', '  on a beach  ', '  a woman  ', 'on a beach, a woman'],
    ])('suffix with %s', (_label, prompt, template, expected) => {
      expect(joinPrompt(prompt, template, 'suffix')).toBe(expected);
    });

    it.each([
      ['a trailing comma on the template', 'on a beach', 'a woman,', 'a woman, on a beach'],
      ['a leading comma on the prompt', ', on a beach', 'a woman', 'a woman, on a beach'],
      ['commas and spaces on both sides', ' , on a beach', 'a woman , ,  ', 'a woman, on a beach'],
    ])('prefix with %s', (_label, prompt, template, expected) => {
      expect(joinPrompt(prompt, template, 'prefix')).toBe(expected);
    });

    it('keeps commas inside either part untouched', () => {
      expect(joinPrompt('red dress, beach, sunset', 'blonde, blue eyes', 'suffix')).toBe(
        'red dress, beach, sunset, blonde, blue eyes',
      );
    });
  });

  describe('never drops the separator or leaves one dangling when a part is empty', () => {
    it.each([
      ['suffix', 'on a beach', undefined, 'on a beach'],
      ['suffix', 'on a beach', '', 'on a beach'],
      ['suffix', 'on a beach', '   ', 'on a beach'],
      ['suffix', 'on a beach', ' , ', 'on a beach'],
      ['prefix', 'on a beach', ' , ', 'on a beach'],
      ['suffix', undefined, 'a woman', 'a woman'],
      ['suffix', ' , ', 'a woman', 'a woman'],
      ['prefix', undefined, 'a woman', 'a woman'],
      ['prefix', '  ', 'a woman', 'a woman'],
      ['replace', 'on a beach', undefined, 'on a beach'],
      ['suffix', undefined, undefined, ''],
    ] as const)('%s mode, prompt %j, template %j → %j', (mode, prompt, template, expected) => {
      expect(joinPrompt(prompt, template, mode)).toBe(expected);
    });
  });

  describe('with a {{ user_prompt }} slot in the template', () => {
    it.each([
      ['{{ user_prompt }}'],
      ['{{user_prompt}}'],
      ['{{  user_prompt}}'],
      ['{{user_prompt   }}'],
      ['{{\tuser_prompt }}'],
    ])('substitutes the prompt at %s (spaces optional)', (slot) => {
      expect(joinPrompt('on a beach', `a woman ${slot}, golden light`, 'suffix')).toBe(
        'a woman on a beach, golden light',
      );
    });

    it.each(['suffix', 'prefix', 'replace'] as const)('ignores the %s mode', (mode) => {
      expect(joinPrompt('on a beach', 'a woman, {{ user_prompt }}, golden light', mode)).toBe(
        'a woman, on a beach, golden light',
      );
    });

    it('trims stray commas and whitespace off the prompt so the template separators are not doubled', () => {
      expect(joinPrompt(' , on a beach ,  ', 'a woman, {{ user_prompt }}, golden light', 'suffix')).toBe(
        'a woman, on a beach, golden light',
      );
    });

    it('fills every slot when the template has more than one', () => {
      expect(joinPrompt('beach', '{{ user_prompt }} portrait, {{user_prompt}} background', 'suffix')).toBe(
        'beach portrait, beach background',
      );
    });

    it('uses the prompt alone when the template is only the slot', () => {
      expect(joinPrompt('on a beach', '  {{ user_prompt }}  ', 'prefix')).toBe('on a beach');
    });

    it.each([
      ['at the end', 'a woman, {{ user_prompt }}', 'a woman'],
      ['at the start', '{{ user_prompt }}, a woman', 'a woman'],
      ['in the middle', 'a woman, {{ user_prompt }}, golden light', 'a woman, golden light'],
      ['in the middle, without spaces', 'a woman,{{user_prompt}},golden light', 'a woman,golden light'],
    ])('collapses the separators around an empty slot %s', (_label, template, expected) => {
      expect(joinPrompt(undefined, template, 'suffix')).toBe(expected);
      expect(joinPrompt(' , ', template, 'suffix')).toBe(expected);
    });

    it('puts the prompt in literally, even when it contains $ replacement patterns', () => {
      // String.prototype.replace reads "$&", "$'", "$`" and "$$" in a replacement string as patterns.
      expect(joinPrompt("a $100 bill, $& and $' and $$", 'photo of {{ user_prompt }}, macro', 'suffix')).toBe(
        "photo of a $100 bill, $& and $' and $$, macro",
      );
    });

    it('is not confused by braces that are not the slot', () => {
      expect(joinPrompt('on a beach', 'a woman {{ other }}', 'suffix')).toBe(
        'on a beach, a woman {{ other }}',
      );
    });
  });
});

describe('promptRequired', () => {
  it('requires a prompt without a profile', () => {
    expect(promptRequired(undefined)).toBe(true);
  });

  it('requires a prompt when the profile has no template', () => {
    expect(promptRequired(snapshot())).toBe(true);
    expect(promptRequired(snapshot({ prompt_template_mode: 'replace' }))).toBe(true);
  });

  it.each(['suffix', 'prefix'] as const)('requires a prompt in %s mode', (mode) => {
    expect(promptRequired(snapshot({ prompt_template: 'a woman', prompt_template_mode: mode }))).toBe(true);
  });

  it('does not require a prompt in replace mode with a template', () => {
    expect(promptRequired(snapshot({ prompt_template: 'a woman', prompt_template_mode: 'replace' }))).toBe(
      false,
    );
  });

  it.each(['suffix', 'prefix', 'replace'] as const)(
    'does not require a prompt when the template has a {{ user_prompt }} slot (%s mode)',
    (mode) => {
      expect(
        promptRequired(snapshot({ prompt_template: 'a woman {{user_prompt}}', prompt_template_mode: mode })),
      ).toBe(false);
    },
  );

  it.each([
    ['a blank template in replace mode', '   ', 'replace'],
    ['a template of commas in replace mode', ' , , ', 'replace'],
    ['a template that is only the slot', '{{ user_prompt }}', 'suffix'],
  ] as const)(
    'requires a prompt when the template alone makes an empty prompt: %s',
    (_label, template, mode) => {
      const profile = snapshot({ prompt_template: template, prompt_template_mode: mode });
      // Without a prompt this profile would send "" to the GPU.
      expect(joinPrompt(undefined, template, mode).replace(/[\s,]/g, '')).toBe('');
      expect(promptRequired(profile)).toBe(true);
    },
  );
});

describe('pickSeed', () => {
  const never = () => {
    throw new Error('no random seed expected');
  };

  describe('with the fixed strategy', () => {
    it.each([undefined, -1, 0, 7, MAX_SEED])(
      'uses fixed_seed and ignores the request seed %p',
      (requested) => {
        expect(pickSeed('fixed', requested, 42, 0, never)).toBe(42);
      },
    );

    it('uses fixed_seed + i for campaign variant i', () => {
      expect([0, 1, 2, 15].map((variant) => pickSeed('fixed', 7, 42, variant, never))).toEqual([
        42, 43, 44, 57,
      ]);
    });

    it('wraps variants past the top of the seed range back to 0', () => {
      expect(pickSeed('fixed', undefined, MAX_SEED, 1, never)).toBe(0);
      expect(pickSeed('fixed', undefined, MAX_SEED - 1, 3, never)).toBe(1);
    });
  });

  describe.each(['user', 'random', undefined] as const)('with the %s strategy', (strategy) => {
    it.each([0, 1, 123456, MAX_SEED])('uses the request seed %p', (requested) => {
      expect(pickSeed(strategy, requested, 42, 0, never)).toBe(requested);
    });

    it.each([-1, undefined])('picks a random seed when the request seed is %p', (requested) => {
      expect(pickSeed(strategy, requested, 42, 0, () => 99)).toBe(99);
    });

    it('ignores a fixed_seed the profile may still carry', () => {
      expect(pickSeed(strategy, undefined, 42, 0, () => 5)).toBe(5);
    });
  });

  it('by default draws random seeds that are integers in 0..4294967295 and vary', () => {
    const seeds = Array.from({ length: 200 }, () => pickSeed('random', -1, undefined));
    for (const seed of seeds) {
      expect(Number.isInteger(seed)).toBe(true);
      expect(seed).toBeGreaterThanOrEqual(0);
      expect(seed).toBeLessThanOrEqual(MAX_SEED);
    }
    expect(new Set(seeds).size).toBeGreaterThan(190);
    // Seeds are spread over the whole 32-bit range, not only the first 2^31.
    expect(seeds.some((seed) => seed > 2 ** 31)).toBe(true);
  });

  it('randomSeed stays within 0..4294967295', () => {
    for (let i = 0; i < 100; i++) {
      const seed = randomSeed();
      expect(seed >= 0 && seed <= MAX_SEED && Number.isInteger(seed)).toBe(true);
    }
  });
});

describe('resolveGeneration', () => {
  const backend = { steps: 25, guidance: 6.5 };
  const profile = snapshot({
    prompt_template: 'a woman',
    prompt_template_mode: 'suffix',
    negative_prompt: 'blurry',
    steps: 9,
    cfg_scale: 1.5,
    width: 768,
    height: 512,
    output_format: 'png',
    seed_strategy: 'fixed',
    fixed_seed: 42,
    adapter: { model: 'sdxl', identity_adapter: 'instantid', identity_strength: 0.8 },
  });
  const pinnedByProfile = {
    negativePrompt: 'blurry',
    width: 768,
    height: 512,
    steps: 9,
    guidance: 1.5,
    outputFormat: 'png',
  };
  const request = {
    prompt: 'on a beach',
    negative_prompt: 'low quality',
    width: 1536,
    height: 640,
    num_inference_steps: 30,
    guidance_scale: 4,
    output_format: 'jpeg' as const,
  };
  const everyField = [
    'negative_prompt',
    'width',
    'height',
    'num_inference_steps',
    'guidance_scale',
    'output_format',
  ] as const;

  it('uses the server and backend defaults when neither request nor profile sets a field', () => {
    expect(resolveGeneration({ prompt: 'on a beach' }, undefined, backend, 11)).toEqual({
      prompt: 'on a beach',
      negativePrompt: undefined,
      width: DEFAULT_SIZE,
      height: DEFAULT_SIZE,
      steps: 25,
      guidance: 6.5,
      outputFormat: DEFAULT_OUTPUT_FORMAT,
      seed: 11,
      adapter: undefined,
      pinnedOver: [],
    });
    expect([DEFAULT_SIZE, DEFAULT_OUTPUT_FORMAT]).toEqual([1024, 'webp']);
  });

  it('uses the defaults of a profile that sets nothing but its template', () => {
    const bare = snapshot({ prompt_template: 'a woman' });
    expect(resolveGeneration({ prompt: 'on a beach' }, bare, backend, 11)).toMatchObject({
      prompt: 'on a beach, a woman',
      width: 1024,
      height: 1024,
      steps: 25,
      guidance: 6.5,
      outputFormat: 'webp',
    });
  });

  it("uses the profile's values over the defaults for every field", () => {
    expect(resolveGeneration({ prompt: 'on a beach' }, profile, backend, 42)).toEqual({
      prompt: 'on a beach, a woman',
      ...pinnedByProfile,
      seed: 42,
      adapter: { model: 'sdxl', identity_adapter: 'instantid', identity_strength: 0.8 },
      pinnedOver: [],
    });
  });

  it("keeps the profile's value for every field it pins, whatever the request sends, and says which", () => {
    expect(resolveGeneration(request, profile, backend, 42)).toEqual({
      prompt: 'on a beach, a woman',
      ...pinnedByProfile,
      seed: 42,
      adapter: profile.adapter,
      pinnedOver: [...everyField],
    });
  });

  it("gives the official SDK's body (1024×1024 webp always sent) the profile's size and format", () => {
    const sdkBody = {
      prompt: 'on a beach',
      width: 1024,
      height: 1024,
      seed: -1,
      output_format: 'webp' as const,
    };
    expect(resolveGeneration(sdkBody, profile, backend, 42)).toMatchObject({
      width: 768,
      height: 512,
      outputFormat: 'png',
    });
  });

  it.each([
    ['negative_prompt', { negativePrompt: 'low quality' }],
    ['width', { width: 1536 }],
    ['height', { height: 640 }],
    ['num_inference_steps', { steps: 30 }],
    ['guidance_scale', { guidance: 4 }],
    ['output_format', { outputFormat: 'jpeg' }],
  ] as const)(
    'takes %s from the request when override_profile names it, the rest from the profile',
    (field, expected) => {
      const resolved = resolveGeneration({ ...request, override_profile: [field] }, profile, backend, 0);
      expect(resolved).toMatchObject({ ...pinnedByProfile, ...expected });
      expect(resolved.pinnedOver).toEqual(everyField.filter((f) => f !== field));
    },
  );

  it('keeps the profile value of a field override_profile names but the request does not send', () => {
    const resolved = resolveGeneration(
      { prompt: 'x', override_profile: [...everyField] },
      profile,
      backend,
      0,
    );
    expect(resolved).toMatchObject(pinnedByProfile);
    expect(resolved.pinnedOver).toEqual([]);
  });

  it("takes the request's values for every field the profile leaves unset", () => {
    const bare = snapshot({ prompt_template: 'a woman', width: 768 });
    expect(resolveGeneration(request, bare, backend, 3)).toMatchObject({
      negativePrompt: 'low quality',
      width: 768,
      height: 640,
      steps: 30,
      guidance: 4,
      outputFormat: 'jpeg',
      pinnedOver: ['width'],
    });
  });

  it("uses the request's values over the defaults without a profile", () => {
    expect(resolveGeneration(request, undefined, backend, 3)).toMatchObject({
      prompt: 'on a beach',
      negativePrompt: 'low quality',
      width: 1536,
      height: 640,
      steps: 30,
      guidance: 4,
      outputFormat: 'jpeg',
      seed: 3,
      pinnedOver: [],
    });
  });

  it('does not count a request value equal to the pinned one as replaced', () => {
    const same = { prompt: 'x', width: 768, output_format: 'png' as const };
    expect(resolveGeneration(same, profile, backend, 0).pinnedOver).toEqual([]);
  });

  it("uses the operation's defaults (e.g. instamodel 768×1024) below the request and the profile", () => {
    const instamodel = { width: 768, height: 1024, output_format: 'webp' as const };
    const removal = { output_format: 'png' as const };
    expect(resolveGeneration({ prompt: 'x' }, undefined, backend, 0, instamodel)).toMatchObject({
      width: 768,
      height: 1024,
      outputFormat: 'webp',
    });
    expect(resolveGeneration({ prompt: 'x' }, undefined, backend, 0, removal).outputFormat).toBe('png');
    expect(resolveGeneration({ prompt: 'x', width: 512 }, undefined, backend, 0, instamodel).width).toBe(512);
    expect(resolveGeneration({ prompt: 'x' }, profile, backend, 0, removal).outputFormat).toBe('png');
    expect(
      resolveGeneration({ prompt: 'x' }, snapshot({ height: 64 }), backend, 0, instamodel),
    ).toMatchObject({ width: 768, height: 64 });
  });

  it('keeps a request value of 0 or "" for a field the profile leaves unset or the request overrides', () => {
    const unset = resolveGeneration(
      { prompt: 'x', guidance_scale: 0, negative_prompt: '' },
      undefined,
      backend,
      0,
    );
    expect(unset.guidance).toBe(0);
    expect(unset.negativePrompt).toBe('');
    const overridden = resolveGeneration(
      {
        prompt: 'x',
        guidance_scale: 0,
        negative_prompt: '',
        override_profile: ['guidance_scale', 'negative_prompt'],
      },
      profile,
      backend,
      0,
    );
    expect(overridden.guidance).toBe(0);
    expect(overridden.negativePrompt).toBe('');
  });

  it('keeps a profile cfg_scale of 0 instead of falling back to the backend default', () => {
    const zero = snapshot({ cfg_scale: 0 });
    expect(resolveGeneration({ prompt: 'x' }, zero, backend, 0).guidance).toBe(0);
    expect(resolveGeneration({ prompt: 'x', guidance_scale: 5 }, zero, backend, 0).guidance).toBe(0);
  });

  it('reports the seed it was given, never the request seed', () => {
    expect(resolveGeneration({ prompt: 'x', seed: 5 }, profile, backend, 42).seed).toBe(42);
  });

  it("always runs on the profile's adapter", () => {
    const resolved = resolveGeneration(
      { ...request, override_profile: [...everyField] },
      profile,
      backend,
      0,
    );
    expect(resolved.adapter).toEqual(profile.adapter);
  });

  it("joins the prompt with the profile's mode", () => {
    const prefix = snapshot({ prompt_template: 'a woman', prompt_template_mode: 'prefix' });
    const replace = snapshot({ prompt_template: 'a woman', prompt_template_mode: 'replace' });
    const slot = snapshot({ prompt_template: 'a woman {{ user_prompt }}, 35mm' });
    expect(resolveGeneration({ prompt: 'on a beach' }, prefix, backend, 0).prompt).toBe(
      'a woman, on a beach',
    );
    expect(resolveGeneration({}, replace, backend, 0).prompt).toBe('a woman');
    expect(resolveGeneration({ prompt: 'on a beach' }, slot, backend, 0).prompt).toBe(
      'a woman on a beach, 35mm',
    );
  });
});

describe('a job seed with pickSeed and resolveGeneration together (SPEC §3)', () => {
  const backend = { steps: 20, guidance: 7 };
  const run = (
    strategy: 'fixed' | 'user' | 'random' | undefined,
    requested: number | undefined,
    variant = 0,
  ) => {
    const profile = strategy && snapshot({ seed_strategy: strategy, fixed_seed: 42 });
    const seed = pickSeed(profile?.seed_strategy, requested, profile?.fixed_seed, variant, () => 777);
    return resolveGeneration({ prompt: 'x', seed: requested }, profile, backend, seed).seed;
  };

  it.each([
    ['fixed', 5, 0, 42],
    ['fixed', -1, 0, 42],
    ['fixed', undefined, 3, 45],
    ['user', 5, 0, 5],
    ['user', -1, 0, 777],
    ['user', undefined, 0, 777],
    ['random', 5, 0, 5],
    ['random', -1, 0, 777],
    [undefined, 5, 0, 5],
    [undefined, -1, 0, 777],
    [undefined, 5, 2, 7],
  ] as const)('%s strategy, request seed %p, variant %d → %d', (strategy, requested, variant, expected) => {
    expect(run(strategy, requested, variant)).toBe(expected);
  });
});
