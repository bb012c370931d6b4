import { loadHttpServerConfig } from './http-server';

describe('loadHttpServerConfig', () => {
  it('has bounded defaults', () => {
    expect(loadHttpServerConfig({})).toEqual({
      GATEWAY_HEADERS_TIMEOUT: 10_000,
      GATEWAY_REQUEST_TIMEOUT: 120_000,
      GATEWAY_KEEPALIVE_TIMEOUT: 5_000,
      GATEWAY_MAX_CONNECTIONS: 4096,
    });
  });

  it('names the variable that is wrong', () => {
    expect(() => loadHttpServerConfig({ GATEWAY_MAX_CONNECTIONS: '0' })).toThrow(/GATEWAY_MAX_CONNECTIONS/);
    expect(() => loadHttpServerConfig({ GATEWAY_HEADERS_TIMEOUT: 'soon' })).toThrow(/GATEWAY_HEADERS_TIMEOUT/);
    expect(() => loadHttpServerConfig({ GATEWAY_HEADERS_TIMEOUT: '30s', GATEWAY_REQUEST_TIMEOUT: '10s' })).toThrow(
      'GATEWAY_REQUEST_TIMEOUT must be at least GATEWAY_HEADERS_TIMEOUT',
    );
  });
});
