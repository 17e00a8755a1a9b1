import { type ChildProcess } from 'node:child_process';
import { waitFor } from '@castforge/testkit/wait';
import { type AppProcess } from './processes';
import { supervise } from './supervisor';

/** A stand-in for a started app (our own seam): it "exits" when the test says so. */
function fakeApp(name: string) {
  let exit!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (exit = resolve));
  const app: AppProcess = { name, child: { exitCode: null } as ChildProcess, exited };
  return { app, exit };
}

describe('supervise', () => {
  it('starts an app that exits again, doubling the delay up to the maximum', async () => {
    const started: ReturnType<typeof fakeApp>[] = [];
    const said: string[] = [];
    const supervised = supervise(
      () => {
        const fake = fakeApp('worker');
        started.push(fake);
        return fake.app;
      },
      (line) => said.push(line),
      { initialMs: 10, maxMs: 40, resetAfterMs: 60_000 },
    );
    for (let n = 1; n <= 4; n++) {
      started[n - 1]!.exit(137);
      await waitFor(() => started.length === n + 1, { timeoutMs: 2000, what: `start number ${n + 1}` });
    }
    expect(said).toEqual([
      'worker exited with code 137; starting it again in 10 ms',
      'worker exited with code 137; starting it again in 20 ms',
      'worker exited with code 137; starting it again in 40 ms',
      'worker exited with code 137; starting it again in 40 ms',
    ]);
    expect(supervised.restarts()).toBe(4);
    expect(supervised.current()).toBe(started[4]!.app);
  });

  it('starts nothing more once stopped', async () => {
    const started: ReturnType<typeof fakeApp>[] = [];
    const said: string[] = [];
    const supervised = supervise(
      () => {
        const fake = fakeApp('worker');
        started.push(fake);
        return fake.app;
      },
      (line) => said.push(line),
      { initialMs: 10, maxMs: 40, resetAfterMs: 60_000 },
    );
    const stopped: AppProcess[] = [];
    await supervised.stop((app) => {
      stopped.push(app);
      return Promise.resolve();
    });
    started[0]!.exit(0);
    // The exit handler runs as a promise reaction; once it has, no restart was even scheduled.
    await started[0]!.app.exited;
    await new Promise((resolve) => setImmediate(resolve));
    expect(said).toEqual([]);
    expect(stopped).toEqual([started[0]!.app]);
    expect(started).toHaveLength(1);
  });
});
