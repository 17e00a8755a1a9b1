import { describe, expect, it } from 'vitest';
import { unjoinPrompt } from './unjoin';

describe('unjoinPrompt', () => {
  const t = 'Danish woman, late 40s';
  it.each([
    ['suffix', 'studio portrait, Danish woman, late 40s', 'studio portrait'],
    ['prefix', 'Danish woman, late 40s, studio portrait', 'studio portrait'],
    ['replace', 'Danish woman, late 40s', ''],
  ] as const)('undoes the %s join', (mode, merged, prompt) => {
    expect(unjoinPrompt(merged, { prompt_template: t, prompt_template_mode: mode })).toBe(prompt);
  });

  it('finds the prompt in a {{ user_prompt }} slot, whatever the mode', () => {
    const snapshot = {
      prompt_template: 'portrait of {{user_prompt}}, 35mm',
      prompt_template_mode: 'suffix' as const,
    };
    expect(unjoinPrompt('portrait of a chef, 35mm', snapshot)).toBe('a chef');
  });

  it('returns the merged prompt when the job had no template, and null when it does not fit the template', () => {
    expect(unjoinPrompt('plain', null)).toBe('plain');
    expect(
      unjoinPrompt('an enhanced rewrite', { prompt_template: t, prompt_template_mode: 'suffix' }),
    ).toBeNull();
  });
});
