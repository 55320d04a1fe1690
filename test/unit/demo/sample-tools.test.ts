import { delay, visibleHeaders } from '../../../src/demo/sample-tools';

describe('visibleHeaders', () => {
  it('keeps every header but cookies, lower-cases names and joins repeated values', () => {
    expect(
      visibleHeaders({
        Authorization: 'Bearer x',
        Cookie: 'a=b',
        'set-cookie': ['c=d'],
        'X-Multi': ['1', '2'],
        'x-missing': undefined,
      }),
    ).toEqual({ authorization: 'Bearer x', 'x-multi': '1, 2' });
  });
});

describe('delay', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('resolves true after the delay', async () => {
    const done = delay(100, new AbortController().signal);
    jest.advanceTimersByTime(100);
    await expect(done).resolves.toBe(true);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('resolves false on abort and clears its timer', async () => {
    const controller = new AbortController();
    const done = delay(10_000, controller.signal);
    expect(jest.getTimerCount()).toBe(1);
    controller.abort();
    await expect(done).resolves.toBe(false);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('resolves false at once for an already aborted signal', async () => {
    await expect(delay(10, AbortSignal.abort())).resolves.toBe(false);
    expect(jest.getTimerCount()).toBe(0);
  });
});
