import { type ErrorDetail } from './errors';

/**
 * Zero data retention (SPEC §2, §9): the API never accepts a secret. Any object field, at any depth,
 * whose name says it carries a key, secret, password, token, credential or encryption key is refused
 * before the body is validated, so the caller learns why instead of reading "unknown field".
 */
const SECRET_WORDS = new Set([
  'key',
  'keys',
  'apikey',
  'secret',
  'secrets',
  'password',
  'passwd',
  'passphrase',
  'pwd',
  'token',
  'tokens',
  'credential',
  'credentials',
  'creds',
  'privatekey',
  'secretkey',
  'accesskey',
  'sas',
  'signature',
  'bearer',
  'authorization',
]);

export const SECRET_REFUSED_MESSAGE =
  'secret fields are refused: keys, secrets, tokens, passwords and credentials are never sent to the API ' +
  '(zero data retention); keep them with your own storage client';

function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

export function isSecretFieldName(name: string): boolean {
  const parts = words(name);
  if (parts.some((w) => SECRET_WORDS.has(w))) return true;
  // "accessKeyId" and "access_key_id" split into words; run-together names such as "secretaccesskey" do not.
  return /(accesskey|secretkey|privatekey|apikey|encryptionkey|connectionstring|clientsecret|accesstoken|authtoken|refreshtoken|sastoken|password|passwd|credential)/.test(
    parts.join(''),
  );
}

interface Visit {
  value: unknown;
  /** The field name or index under which `value` sits; absent for the root. */
  key?: string | number;
  parent?: Visit;
}

const pathOf = (visit: Visit): (string | number)[] => {
  const path: (string | number)[] = [];
  for (let v: Visit | undefined = visit; v?.key !== undefined; v = v.parent) path.unshift(v.key);
  return path;
};

/**
 * Every field, at any depth, whose name says it carries a secret. The walk uses an explicit stack rather
 * than recursion, so a body nested thousands of levels deep cannot overflow the call stack (a 500).
 */
export function findSecretFields(
  value: unknown,
  root: string,
  path: (string | number)[] = [],
): ErrorDetail[] {
  const found: ErrorDetail[] = [];
  const stack: Visit[] = [{ value }];
  while (stack.length) {
    const visit = stack.pop()!;
    if (typeof visit.key === 'string' && isSecretFieldName(visit.key)) {
      found.push({
        loc: [root, ...path, ...pathOf(visit)],
        msg: SECRET_REFUSED_MESSAGE,
        type: 'secret_refused',
      });
      continue;
    }
    const node = visit.value;
    if (node === null || typeof node !== 'object') continue;
    // Pushed in reverse so that fields are reported in the order they were sent.
    const children: [string | number, unknown][] = Array.isArray(node)
      ? node.map((item, i): [number, unknown] => [i, item])
      : Object.entries(node as Record<string, unknown>);
    for (let i = children.length - 1; i >= 0; i--) {
      const [key, child] = children[i]!;
      stack.push({ value: child, key, parent: visit });
    }
  }
  return found;
}
