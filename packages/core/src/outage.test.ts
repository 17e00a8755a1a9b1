import { OutcomeUnknownError, isDependencyOutage } from './outage';

/** A ReplyError as ioredis makes it: the server's message, verbatim. */
const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });

describe('isDependencyOutage', () => {
  it('is true for what a Redis Cluster answers while a slot moves or a master is elected', () => {
    for (const message of [
      'MOVED 7071 127.0.0.1:38623',
      'ASK 3999 127.0.0.1:7002',
      'TRYAGAIN Multiple keys request during rehashing of slot',
      'CLUSTERDOWN The cluster is down',
      'LOADING Redis is loading the dataset in memory',
      'Redis did not answer within 2000 ms',
    ]) {
      expect([message, isDependencyOutage(reply(message))]).toEqual([message, true]);
    }
  });

  it("is true for what ioredis' Cluster client says during a failover", () => {
    for (const error of [
      new Error("Cluster isn't ready and enableOfflineQueue options is false"),
      Object.assign(new Error('Command aborted due to connection close'), { name: 'AbortError' }),
    ]) {
      expect([error.message, isDependencyOutage(error)]).toEqual([error.message, true]);
    }
  });

  it('is true for a MULTI aborted because its commands were refused so, and only then', () => {
    const aborted = (...previous: Error[]) =>
      Object.assign(reply('EXECABORT Transaction discarded because of previous errors.'), {
        previousErrors: previous,
      });
    expect(isDependencyOutage(aborted(reply('MOVED 12 127.0.0.1:7001'), reply('CLUSTERDOWN down')))).toBe(
      true,
    );
    expect(isDependencyOutage(aborted(reply('MOVED 12 127.0.0.1:7001'), reply('ERR syntax error')))).toBe(
      false,
    );
    expect(isDependencyOutage(aborted())).toBe(false);
  });

  it('is true for a transaction whose outcome is unknown, and for a cause chain that holds one', () => {
    expect(isDependencyOutage(new OutcomeUnknownError('no reply'))).toBe(true);
    expect(isDependencyOutage(new Error('submit failed', { cause: reply('MOVED 1 127.0.0.1:7000') }))).toBe(
      true,
    );
  });

  it('is false for a request Redis refused on its merits', () => {
    expect(isDependencyOutage(reply('ERR wrong number of arguments for script'))).toBe(false);
    expect(isDependencyOutage(reply('NOSCRIPT No matching script'))).toBe(false);
    expect(isDependencyOutage(new TypeError('reply is not iterable'))).toBe(false);
  });
});
