import { ErrorCode, httpStatusByCode } from './errors';

describe('httpStatusByCode', () => {
  it.each([
    ['METHOD_NOT_ALLOWED', 405],
    ['NOT_IMPLEMENTED', 501],
  ] as const)('answers %s with %d (SPEC §8)', (code, status) => {
    expect(ErrorCode.options).toContain(code);
    expect(httpStatusByCode[code]).toBe(status);
  });
});
