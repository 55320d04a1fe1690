import { paramValues, parseContentType } from '../../../../src/gateway/body';

describe('parseContentType (RFC 9110 media type)', () => {
  it.each([
    ['application/json', 'application', 'json', []],
    ['Application/JSON', 'application', 'json', []],
    ['application/json;charset=utf-8', 'application', 'json', [['charset', 'utf-8']]],
    ['application/json ; CharSet="UTF-8"', 'application', 'json', [['charset', 'UTF-8']]],
    ['application/json;\tcharset=utf-8 ', 'application', 'json', [['charset', 'utf-8']]],
    ['application/json;;', 'application', 'json', []],
    ['application/json; a="x\\"y;charset=utf-7"', 'application', 'json', [['a', 'x"y;charset=utf-7']]],
    ['application/vnd.api+json; a=b; c="d e"', 'application', 'vnd.api+json', [['a', 'b'], ['c', 'd e']]],
    ['text/plain; q="\\\\"', 'text', 'plain', [['q', '\\']]],
    ['text/plain; q=""', 'text', 'plain', [['q', '']]],
  ])('parses %j', (value, type, subtype, params) => {
    expect(parseContentType(value)).toEqual({ type, subtype, params });
  });

  it.each([
    [''],
    [' '],
    ['application'],
    ['application/'],
    ['/json'],
    ['application /json'],
    ['application/json charset=utf-8'],
    ['application/json; charset = utf-8'],
    ['application/json; charset= utf-8'],
    ['application/json; charset'],
    ['application/json; charset='],
    ['application/json; charset="utf-8'],
    ['application/json; charset="utf-8"x'],
    ['application/json; =utf-8'],
    ['application/json, text/plain'],
    ['application/js\u00f6n'],
    ['application/json; a="\u0001"'],
    ['application/json; a=b c'],
  ])('refuses %j', (value) => {
    expect(parseContentType(value)).toBeNull();
  });

  it('lists repeated parameters in order and lower-cases their names', () => {
    const m = parseContentType('application/json; CHARSET=utf-8; charset="utf-7"')!;
    expect(paramValues(m, 'charset')).toEqual(['utf-8', 'utf-7']);
  });

  it('handles long values in linear time', () => {
    const long = `application/json; a="${'\\"'.repeat(50_000)}"`;
    const start = performance.now();
    expect(parseContentType(long)?.params[0]?.[1]).toBe('"'.repeat(50_000));
    expect(parseContentType(`${long}x`)).toBeNull();
    expect(performance.now() - start).toBeLessThan(1000);
  });
});
