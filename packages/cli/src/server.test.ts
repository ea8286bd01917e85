/** Tests for the server verbs' argument parsing. */
import { describe, expect, it } from 'vitest';
import { parseListen } from './server.ts';

describe('cli - listen address', () => {
  const good = [
    { text: '127.0.0.1:8080', host: '127.0.0.1', port: 8080 },
    { text: '0.0.0.0:0', host: '0.0.0.0', port: 0 },
    { text: 'localhost:9000', host: 'localhost', port: 9000 },
    { text: '[::1]:443', host: '::1', port: 443 },
  ];
  it.each(good)('listen - $text is host $host port $port', ({ text, host, port }) => {
    expect(parseListen(text)).toEqual({ host, port });
  });

  it.each([':8080', '8080', 'host:', 'host:70000', '::1:80', 'host:80x'])(
    'listen - %j is refused with an example of the right form',
    (text) => {
      expect(() => parseListen(text)).toThrow('use HOST:PORT, e.g. 127.0.0.1:8080');
    },
  );
});
