import { describe, expect, it } from 'vitest';
import { profile } from '../fixtures';
import { createBody, emptyForm, errorsByField, formFromProfile, patchBody } from './profile-form-model';

describe('errorsByField', () => {
  it('puts each 422 message next to the field its loc names, nested fields and list items included', () => {
    const { fields, form } = errorsByField([
      { loc: ['body', 'width'], msg: 'must be a multiple of 8', type: 'multiple_of' },
      { loc: ['body', 'adapter', 'loras', 1, 'weight'], msg: 'must be at most 2', type: 'too_big' },
      { loc: ['body', 'tags', 0], msg: 'must be at least 1 character', type: 'too_small' },
      { loc: ['body', 'storage', 'endpoint'], msg: 'must not carry credentials', type: 'secret_refused' },
      { loc: ['body', 'fixed_seed'], msg: 'is required when seed_strategy is fixed', type: 'missing' },
      { loc: ['body', 'surprise'], msg: 'is not a field', type: 'unrecognized_keys' },
    ]);
    expect(fields).toEqual({
      width: 'must be a multiple of 8',
      'adapter.loras': 'line 2 weight: must be at most 2',
      tags: 'tag 1: must be at least 1 character',
      'storage.endpoint': 'must not carry credentials',
      fixed_seed: 'is required when seed_strategy is fixed',
    });
    expect(form).toEqual(['surprise: is not a field']);
  });
});

describe('createBody', () => {
  it('sends only what was filled in, numbers as numbers and text the API must judge as text', () => {
    const values = {
      ...emptyForm(),
      name: ' Mara ',
      tags: 'casting, , spring ',
      width: '64',
      height: 'tall',
      'adapter.loras': 'film-grain:0.6\nsoft light',
      'storage.provider': 's3',
      'storage.bucket': 'b',
    };
    expect(createBody(values)).toEqual({
      name: 'Mara',
      tags: ['casting', 'spring'],
      prompt_template_mode: 'suffix',
      seed_strategy: 'random',
      width: 64,
      height: 'tall',
      adapter: {
        loras: [
          { name: 'film-grain', weight: 0.6 },
          { name: 'soft light', weight: 1 },
        ],
      },
      storage: { provider: 's3', bucket: 'b' },
    });
  });

  it('refuses extra that is not JSON before sending, naming the field', () => {
    expect(() => createBody({ ...emptyForm(), name: 'x', 'adapter.extra': '{nope' })).toThrow(
      expect.objectContaining({ field: 'adapter.extra' }),
    );
  });
});

describe('patchBody', () => {
  it('sends only the changed fields; an emptied field is null (cleared), emptied tags are []', () => {
    const saved = profile({
      description: 'old',
      tags: ['a'],
      adapter_snapshot: {
        prompt_template_mode: 'suffix',
        seed_strategy: 'random',
        steps: 9,
        adapter: { model: 'sdxl' },
      },
    });
    const before = formFromProfile(saved);
    expect(before.steps).toBe('9');
    const after = { ...before, description: '', tags: '', steps: '12', 'adapter.model': '' };
    expect(patchBody(before, after)).toEqual({ description: null, tags: [], steps: 12, adapter: null });
    expect(patchBody(before, before)).toEqual({});
  });
});
