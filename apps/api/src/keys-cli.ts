import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TenantId } from '@castforge/schemas';
import { closeMongo, connectMongo, createKeyStore, createLogger } from '@castforge/core';

const USAGE = `Manage API keys against the running database (no restart needed).

  npm run keys -- create --tenant <tenant_id> [--name <label>]   create a key (printed once)
  npm run keys -- list [--tenant <tenant_id>] [--json]            list keys (never the keys themselves)
  npm run keys -- revoke <key_id>                                 revoke a key (effective within 5 s)

MongoDB is MONGODB_URI, or the embedded one a running \`npm start\` recorded in .data/stack.json.`;

function mongoUri(): string {
  if (process.env.MONGODB_URI) return process.env.MONGODB_URI;
  const stackFile = path.join(process.env.DATA_DIR ?? path.resolve('.data'), 'stack.json');
  if (existsSync(stackFile)) {
    const recorded = (JSON.parse(readFileSync(stackFile, 'utf8')) as { mongodb_uri?: string }).mongodb_uri;
    if (recorded) return recorded;
  }
  throw new Error('no MongoDB to talk to: set MONGODB_URI, or start the stack with `npm start` first');
}

const out = (line: string) => process.stdout.write(`${line}\n`);

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      tenant: { type: 'string' },
      name: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  const [command, ...rest] = positionals;
  if (!command || values.help) {
    out(USAGE);
    return command || values.help ? 0 : 2;
  }
  const logger = createLogger({ name: 'keys', level: 'silent' });
  const mongo = await connectMongo({ uri: mongoUri(), serverSelectionTimeoutMS: 3000, logger });
  try {
    const keys = createKeyStore(mongo);
    await keys.ensureIndexes();
    switch (command) {
      case 'create': {
        const tenant = TenantId.safeParse(values.tenant);
        if (!tenant.success) throw new Error('create needs --tenant <tenant_id> (a-z, 0-9, _ and -)');
        const created = await keys.create(tenant.data, values.name ?? 'created with npm run keys');
        if (values.json) out(JSON.stringify(created));
        else
          out(
            `created ${created.key_id} for tenant ${created.tenant_id}\n\n  ${created.api_key}\n\nStore it now: it is not shown again.`,
          );
        return 0;
      }
      case 'list': {
        const list = await keys.list(values.tenant);
        if (values.json) out(JSON.stringify(list));
        else if (!list.length) out('no keys');
        else
          for (const k of list) {
            out(
              `${k.key_id}  ${k.tenant_id.padEnd(16)} ${`${k.prefix}…`.padEnd(14)} ${k.revoked_at ? `revoked ${k.revoked_at}` : 'active'}  ${k.name}`,
            );
          }
        return 0;
      }
      case 'revoke': {
        const keyId = rest[0];
        if (!keyId) throw new Error('revoke needs a key id (see `npm run keys -- list`)');
        if (!(await keys.revoke(keyId))) throw new Error(`no key ${keyId}`);
        out(`revoked ${keyId}`);
        return 0;
      }
      default:
        throw new Error(`unknown command ${command}\n\n${USAGE}`);
    }
  } finally {
    await closeMongo(mongo);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`keys: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
