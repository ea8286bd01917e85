/** What `tether forward AGENT SPEC` understands, and what it refuses before asking anyone. */
import { describe, expect, it } from 'vitest';
import { parseForwardSpec } from './forward-spec.ts';

describe('forward spec', () => {
  it.each([
    { spec: '5432', localPort: 0, target: '127.0.0.1:5432' },
    { spec: 'db.internal:5432', localPort: 0, target: 'db.internal:5432' },
    { spec: '15432:5432', localPort: 15432, target: '127.0.0.1:5432' },
    { spec: '15432:db:5432', localPort: 15432, target: 'db:5432' },
    { spec: '0:db:5432', localPort: 0, target: 'db:5432' },
    { spec: '[::1]:8080', localPort: 0, target: '[::1]:8080' },
    { spec: '8080:[fd00:ec2::254]:80', localPort: 8080, target: '[fd00:ec2::254]:80' },
    { spec: '8080:10.0.0.5:80', localPort: 8080, target: '10.0.0.5:80' },
  ])('spec - $spec listens on $localPort for $target', ({ spec, localPort, target }) => {
    expect(parseForwardSpec(spec)).toEqual({ localPort, target });
  });

  it.each([
    { spec: '', says: 'give host:port' },
    { spec: 'db', says: 'give host:port' },
    { spec: '70000:db:80', says: 'the port must be 1 to 65535' },
    { spec: '8080:db:0', says: 'the port must be 1 to 65535' },
    { spec: 'db:http', says: 'the port must be 1 to 65535' },
    { spec: '1:2:3:4', says: 'in brackets' },
  ])('spec - "$spec" is refused: $says', ({ spec, says }) => {
    expect(() => parseForwardSpec(spec)).toThrow(says);
    expect(() => parseForwardSpec(spec)).toThrow('[LOCAL_PORT:]HOST:PORT');
  });
});
