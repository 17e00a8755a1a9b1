/**
 * The commandTimeout of a command that ioredis sends a second time (command-timeout-fix.ts): what a Redis
 * Cluster pipeline or MULTI does to every command of it after MOVED, ASK or a closed connection. The story
 * test/cluster-failover.test.ts saw the hang this prevents; this pins the mechanism, without a cluster.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'ioredis';
import './command-timeout-fix';

/** What ioredis' Pipeline does to each command before it sends the pipeline again. */
const prepareResend = (command: Command) => (command as unknown as { initPromise(): void }).initPromise();

const settled = (command: Command) =>
  Promise.race([
    command.promise.then(
      () => 'answered',
      (err: Error) => err.message,
    ),
    sleep(2000).then(() => 'not settled after 2 s'),
  ]);

describe('a command sent again', () => {
  it('times out if unanswered, though its first sending was answered (a QUEUED in a MULTI)', async () => {
    const command = new Command('set', ['key', 'value']);
    command.resolve('QUEUED');
    await command.promise;

    prepareResend(command);
    command.setTimeout(50);
    expect(await settled(command)).toBe('Command timed out');
  });

  it('still takes the answer that comes in time', async () => {
    const command = new Command('set', ['key', 'value']);
    command.resolve('QUEUED');
    prepareResend(command);
    command.setTimeout(1000);
    command.resolve('OK');
    expect(await settled(command)).toBe('answered');
  });

  it('leaves a command answered the first time alone', async () => {
    const command = new Command('get', ['key']);
    command.setTimeout(50);
    command.resolve('value');
    await sleep(100);
    expect(await settled(command)).toBe('answered');
  });
});
