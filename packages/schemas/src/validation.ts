import { type z } from 'zod';
import { type ErrorDetail } from './errors';

type Issue = z.core.$ZodIssue;

/**
 * Turns zod issues into SPEC §8 `detail` entries: one entry per bad field, `loc` rooted at where the
 * value came from (`body`, `query`, `path`, `env`), a message a person can act on, and a stable `type`.
 */
export function issuesToDetail(issues: readonly Issue[], root: string): ErrorDetail[] {
  const detail: ErrorDetail[] = [];
  for (const issue of issues) {
    const loc = [root, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        detail.push({ loc: [...loc, key], msg: 'unknown field', type: 'extra_forbidden' });
      continue;
    }
    detail.push({ loc, msg: describeIssue(issue), type: issueType(issue) });
  }
  return detail;
}

/** `width: must be a multiple of 8; height: ...` — the one-line summary of a detail list. */
export function summarizeDetail(detail: readonly ErrorDetail[], max = 5): string {
  const parts = detail.slice(0, max).map((d) => {
    // A problem with the whole value (`body: must be an object`) names its root rather than nothing.
    const path = d.loc.length > 1 ? d.loc.slice(1).join('.') : d.loc.join('.');
    return path ? `${path}: ${d.msg}` : d.msg;
  });
  if (detail.length > max) parts.push(`and ${detail.length - max} more`);
  return parts.join('; ');
}

function issueType(issue: Issue): string {
  switch (issue.code) {
    case 'not_multiple_of':
      return 'multiple_of';
    case 'invalid_type':
      return issue.input === undefined ? 'missing' : 'invalid_type';
    case 'too_small':
      return issue.origin === 'string' || issue.origin === 'array' ? 'too_short' : 'too_small';
    case 'too_big':
      return issue.origin === 'string' || issue.origin === 'array' ? 'too_long' : 'too_big';
    case 'invalid_value':
      return 'enum';
    case 'custom':
      return typeof issue.params?.type === 'string' ? issue.params.type : 'invalid';
    default:
      return issue.code;
  }
}

function describeIssue(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type':
      // `input` is there only when parsed with `reportInput: true`; without it every type error would read as missing.
      if (issue.input === undefined) return 'is required';
      if (typeof issue.input === 'number' && !Number.isFinite(issue.input))
        return Number.isNaN(issue.input) ? `must be ${article(issue.expected)}` : 'must be a finite number';
      return `must be ${article(issue.expected)}, not ${describeValue(issue.input)}`;
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'string') return `must be at least ${min} character${min === 1 ? '' : 's'} long`;
      if (issue.origin === 'array') return `must have at least ${min} item${min === 1 ? '' : 's'}`;
      return issue.inclusive === false ? `must be greater than ${min}` : `must be at least ${min}`;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'string') return `must be at most ${max} characters long`;
      if (issue.origin === 'array') return `must have at most ${max} items`;
      return issue.inclusive === false ? `must be less than ${max}` : `must be at most ${max}`;
    }
    case 'not_multiple_of':
      return `must be a multiple of ${Number(issue.divisor)}`;
    case 'invalid_value':
      return `must be one of: ${issue.values.map((v) => String(v)).join(', ')}`;
    case 'invalid_format':
      return issue.message && !issue.message.startsWith('Invalid')
        ? issue.message
        : `must be a valid ${issue.format}`;
    default:
      return issue.message;
  }
}

function article(expected: string): string {
  if (expected === 'int') return 'an integer';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number' && !Number.isInteger(value)) return 'a fractional number';
  return article(typeof value);
}

/** How deep a JSON body may nest. MongoDB refuses documents nested past 100 levels; no field needs 32. */
export const MAX_JSON_DEPTH = 32;

const isUnsafeKey = (key: string) => key === '__proto__' || key.startsWith('$') || key.includes('\0');

/**
 * Structure no schema should ever see: nesting deeper than `maxDepth` (which would otherwise overflow
 * recursive code or MongoDB's nesting limit), and object keys MongoDB cannot store or would read as an
 * operator (a NUL byte, a leading `$`), or that would replace an object's prototype (`__proto__`).
 * Walks with an explicit stack and stops at the first too-deep value, so any body is safe to inspect.
 */
export function findUnsafeJson(value: unknown, root: string, maxDepth = MAX_JSON_DEPTH): ErrorDetail[] {
  const found: ErrorDetail[] = [];
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  while (stack.length) {
    const { value: node, path } = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (path.length >= maxDepth) {
      found.push({
        loc: [root, ...path],
        msg: `is nested too deeply (at most ${maxDepth} levels)`,
        type: 'too_deep',
      });
      return found;
    }
    // Children are pushed in reverse so that problems are reported in the order the fields were sent.
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push({ value: node[i], path: [...path, i] });
      continue;
    }
    const entries = Object.entries(node as Record<string, unknown>);
    for (const [key] of entries) {
      if (isUnsafeKey(key)) {
        found.push({
          loc: [root, ...path, key],
          msg: 'is not an allowed field name (no __proto__, no leading $, no NUL byte)',
          type: 'invalid_key',
        });
      }
    }
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i]!;
      if (!isUnsafeKey(key)) stack.push({ value: child, path: [...path, key] });
    }
  }
  return found;
}
