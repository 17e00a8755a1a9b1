import { type AdapterSnapshot } from '@castforge/client';

const edge = (s: string) => s.replace(/^[\s,]+|[\s,]+$/g, '');

/**
 * The caller's prompt back out of a job's merged prompt, undoing the profile's join (SPEC §3: suffix →
 * "<prompt>, <template>", prefix → "<template>, <prompt>", a {{ user_prompt }} slot, or replace). Returns
 * null when the merged prompt does not have the shape this template makes (e.g. an enhanced prompt).
 */
export function unjoinPrompt(
  merged: string,
  snapshot: Pick<AdapterSnapshot, 'prompt_template' | 'prompt_template_mode'> | null,
): string | null {
  const template = snapshot?.prompt_template ? edge(snapshot.prompt_template) : '';
  if (!template) return merged;
  const slot = /\{\{\s*user_prompt\s*\}\}/.exec(template);
  if (slot) {
    const before = template.slice(0, slot.index);
    const after = template.slice(slot.index + slot[0].length);
    return merged.startsWith(before) &&
      merged.endsWith(after) &&
      merged.length >= before.length + after.length
      ? edge(merged.slice(before.length, merged.length - after.length))
      : null;
  }
  switch (snapshot?.prompt_template_mode) {
    case 'replace':
      return '';
    case 'prefix':
      return merged.startsWith(template) ? edge(merged.slice(template.length)) : null;
    default:
      return merged.endsWith(template) ? edge(merged.slice(0, merged.length - template.length)) : null;
  }
}
