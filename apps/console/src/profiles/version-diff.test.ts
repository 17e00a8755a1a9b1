import { describe, expect, it } from 'vitest';
import { profile } from '../fixtures';
import { diffVersions } from './version-diff';

describe('diffVersions', () => {
  it('lists every field either version sets, nested ones dotted, and marks what changed', () => {
    const v1 = profile({
      adapter_snapshot: { prompt_template_mode: 'suffix', seed_strategy: 'random', steps: 9 },
    });
    const v2 = profile({
      version: 2,
      description: 'Lead',
      adapter_snapshot: {
        prompt_template_mode: 'suffix',
        seed_strategy: 'fixed',
        fixed_seed: 42,
        steps: 9,
        adapter: { model: 'sdxl' },
      },
    });
    const changed = diffVersions(v1, v2).filter((r) => r.changed);
    expect(changed).toEqual([
      { field: 'description', before: '', after: 'Lead', changed: true },
      { field: 'seed_strategy', before: 'random', after: 'fixed', changed: true },
      { field: 'fixed_seed', before: '', after: '42', changed: true },
      { field: 'adapter.model', before: '', after: 'sdxl', changed: true },
    ]);
    expect(diffVersions(v1, v2).find((r) => r.field === 'steps')).toEqual({
      field: 'steps',
      before: '9',
      after: '9',
      changed: false,
    });
  });
});
