import { type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { type EmbeddedMongo, startEmbeddedMongo } from '@castforge/core';
import { loadConfig } from './config';
import { demoKey } from './dev-key';
import { type AppProcess, startApp, stopProcess } from './processes';
import { ensureRedis } from './redis-server';
import { writeStackFile } from './stack-file';
import { type Supervised, supervise } from './supervisor';

const say = (line: string) => process.stdout.write(`[stack] ${line}\n`);

/** `npm start`: the whole stack on embedded defaults (README). Ctrl-C stops everything it started. */
async function main() {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig();
  const format = config.LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const owned: ChildProcess[] = [];
  const apps: AppProcess[] = [];
  // Set once the worker starts; read by the exit handlers, which may run before that.
  const running: { worker?: Supervised } = {};
  let mongo: EmbeddedMongo | undefined;
  // Last resort if the launcher itself dies: no child may be left behind.
  process.once('exit', () => {
    const children = [
      ...owned,
      ...apps.map((a) => a.child),
      ...(running.worker ? [running.worker.current().child] : []),
    ];
    children.forEach((child) => child.exitCode === null && child.kill('SIGKILL'));
  });

  let stopping: Promise<void> | undefined;
  const stop = (code: number) => {
    stopping ??= (async () => {
      say('stopping…');
      // Past each app's own drain time: a worker hands its long jobs back after SHUTDOWN_GRACE_MS, and a
      // SIGKILL before that would leave them to stall detection instead.
      const margin = 10_000;
      const apiGrace = (config.SHUTDOWN_GRACE_MS ?? 10_000) + margin;
      const workerGrace = (config.SHUTDOWN_GRACE_MS ?? 30_000) + margin;
      await Promise.all([
        ...apps.map((app) => stopProcess(app.child, apiGrace)),
        running.worker?.stop((app) => stopProcess(app.child, workerGrace)),
      ]);
      if (mongo) await mongo.stop();
      for (const child of owned) await stopProcess(child, 5_000);
      rmSync(path.join(config.DATA_DIR, 'stack.json'), { force: true });
      say('stopped');
      process.exit(code);
    })();
    return stopping;
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));

  const redis = await ensureRedis(config.REDIS_URL);
  if (redis.child) owned.push(redis.child);
  say(
    redis.started
      ? `started redis-server for ${config.REDIS_URL} (in memory)`
      : `using Redis at ${config.REDIS_URL}`,
  );

  let mongoUri = config.MONGODB_URI;
  if (!mongoUri) {
    mongo = await startEmbeddedMongo({ port: config.EMBEDDED_MONGODB_PORT });
    owned.push(mongo.process);
    mongoUri = `${mongo.uri}/castforge`;
    say(
      `started the embedded MongoDB at ${mongo.uri} (in memory: data is gone when this stops; set MONGODB_URI to keep it)`,
    );
  } else {
    say(`using MongoDB at ${mongoUri.replace(/\/\/[^@/]*@/, '//***@')}`);
  }

  let apiKeys = config.API_KEYS;
  if (!apiKeys) {
    const demo = demoKey(config.DATA_DIR);
    apiKeys = `${demo.tenant}:${demo.key}`;
    say(`API key for tenant "${demo.tenant}": ${demo.key}  (also in ${path.relative('.', demo.file)})`);
  }

  const apiUrl = `http://localhost:${config.PORT}`;
  writeStackFile(config.DATA_DIR, {
    mongodb_uri: mongoUri,
    redis_url: config.REDIS_URL,
    redis_prefix: config.REDIS_PREFIX,
    data_dir: path.resolve(config.DATA_DIR),
    api_url: apiUrl,
    pid: process.pid,
  });

  const env = {
    ...process.env,
    MONGODB_URI: mongoUri,
    REDIS_URL: config.REDIS_URL,
    API_KEYS: apiKeys,
    DATA_DIR: config.DATA_DIR,
    INPUT_ALLOW_LOOPBACK: String(config.INPUT_ALLOW_LOOPBACK),
    CALLBACK_ALLOW_LOOPBACK: String(config.CALLBACK_ALLOW_LOOPBACK),
  };
  if (config.INPUT_ALLOW_LOOPBACK || config.CALLBACK_ALLOW_LOOPBACK) {
    say(
      'local development: input image and callback URLs on this machine are admitted ' +
        '(INPUT_ALLOW_LOOPBACK / CALLBACK_ALLOW_LOOPBACK=false to refuse them as a deployment does)',
    );
  }
  const root = path.resolve(__dirname, '../../..');
  apps.push(startApp('api', path.join(root, 'apps/api/dist/index.js'), env, format));
  running.worker = supervise(
    () => startApp('worker', path.join(root, 'apps/worker/dist/index.js'), env, format),
    say,
  );
  say(`API on ${apiUrl} — Ctrl-C stops everything; \`npm run worker\` adds a worker`);

  // A worker that dies is started again (supervise); the API dying stops the whole stack with its code,
  // since without it nothing can reach the workers and the crash is what the developer needs to see.
  const code = await apps[0]!.exited;
  if (!stopping) {
    say(`api exited with code ${code}; stopping the rest`);
    await stop(code || 1);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`[stack] ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
