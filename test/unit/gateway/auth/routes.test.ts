import { route } from '../../../../src/gateway/routes';

describe('route: protected resource metadata', () => {
  it.each([
    ['/.well-known/oauth-protected-resource', { kind: 'resource-metadata', server: null }],
    ['/.well-known/oauth-protected-resource/', { kind: 'resource-metadata', server: null }],
    ['/.well-known/oauth-protected-resource/mcp/notes', { kind: 'resource-metadata', server: 'notes' }],
    ['/.well-known/oauth-protected-resource/mcp/notes?x=1', { kind: 'resource-metadata', server: 'notes' }],
    ['/.well-known/oauth-protected-resource/mcp/notes/extra', { kind: 'none' }],
    ['/.well-known/oauth-protected-resourceX', { kind: 'none' }],
    ['/.well-known/oauth-authorization-server', { kind: 'none' }],
  ])('%s', (target, expected) => {
    expect(route(target)).toEqual(expected);
  });
});
