import { spawn, spawnSync } from 'node:child_process';

export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Where a Prometheus tool lives: on PATH as Debian's `prometheus` package installs it (`.ci/run` installs
 * it when missing). A missing tool fails the test that needs it with the way to get it, never a skip.
 */
export function prometheusTool(name: 'promtool' | 'prometheus'): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || !path) {
    throw new Error(`${name} is not installed: apt-get install -y --no-install-recommends prometheus`);
  }
  return path;
}

/** Runs promtool with these arguments (and `stdin`, if given) and returns what it said. */
export function promtool(args: string[], options: { stdin?: string; cwd?: string } = {}): Promise<ToolRun> {
  const child = spawn(prometheusTool('promtool'), args, {
    cwd: options.cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
