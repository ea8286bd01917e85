/** Forward targets: what parses, what the account's list covers, what is refused unlisted. */
import { describe, expect, it } from 'vitest';
import { entryCovers, formatTarget, parseTarget, refusedAddress } from './forward-target.ts';

describe('forward targets - parsing', () => {
  it.each([
    { text: '127.0.0.1:5432', host: '127.0.0.1', port: 5432 },
    { text: 'DB.Internal:6379', host: 'db.internal', port: 6379 },
    { text: 'db.internal.:80', host: 'db.internal', port: 80 },
    { text: '[::1]:8080', host: '::1', port: 8080 },
    { text: '[FD00:EC2::254]:80', host: 'fd00:ec2::254', port: 80 },
    { text: 'localhost:65535', host: 'localhost', port: 65535 },
  ])('parse - $text is $host port $port', ({ text, host, port }) => {
    expect(parseTarget(text)).toEqual({ host, port });
  });

  it.each([
    { name: 'no port', text: 'db.internal', says: 'give host:port' },
    { name: 'port zero', text: 'db:0', says: 'the port must be 1 to 65535' },
    { name: 'port too large', text: 'db:65536', says: 'the port must be 1 to 65535' },
    { name: 'port not a number', text: 'db:http', says: 'the port must be 1 to 65535' },
    { name: 'empty host', text: ':80', says: 'the host is empty' },
    { name: 'IPv6 without brackets', text: 'fd00::1:80', says: 'in brackets' },
    { name: 'brackets around no IPv6', text: '[db]:80', says: 'is not an IPv6 address' },
    { name: 'a space in the host', text: 'db host:80', says: 'is not a host name' },
    { name: 'a control character', text: 'db\u001b[31m:80', says: 'is not a host name' },
    // inet_aton reads these as 169.254.169.254: refused as numbers before any policy check.
    { name: 'a decimal IPv4', text: '2852039166:80', says: 'is a number' },
    { name: 'a short IPv4', text: '169.254.43518:80', says: 'is a number' },
    { name: 'a hex IPv4', text: '0xa9.0xfe.0xa9.0xfe:80', says: 'is a number' },
    { name: 'a label too long', text: `${'a'.repeat(64)}.example:80`, says: 'is not a host' },
  ])('parse - $name is refused: "$says"', ({ text, says }) => {
    expect(() => parseTarget(text)).toThrow(says);
  });

  it('parse - the message escapes what the user typed', () => {
    expect(() => parseTarget('x\u001b]0;owned\u0007:80')).toThrow('\\u001b');
  });

  it('format - IPv6 goes back in brackets', () => {
    expect(formatTarget({ host: 'fd00:ec2::254', port: 80 })).toBe('[fd00:ec2::254]:80');
    expect(formatTarget({ host: 'db', port: 1 })).toBe('db:1');
  });
});

describe('forward targets - refused unless listed', () => {
  it.each([
    { address: '169.254.169.254', why: 'a cloud metadata address' },
    { address: 'fd00:ec2::254', why: 'a cloud metadata address' },
    { address: 'fd00:ec2:0:0:0:0:0:254', why: 'a cloud metadata address' },
    { address: '::ffff:169.254.169.254', why: 'a cloud metadata address' },
    { address: '169.254.1.2', why: 'a link-local address' },
    { address: 'fe80::1', why: 'a link-local address' },
    { address: '127.0.0.1', why: null },
    { address: '::1', why: null },
    { address: '10.0.0.5', why: null },
    { address: 'metadata.google.internal', why: null },
  ])('refused - $address: $why', ({ address, why }) => {
    expect(refusedAddress(address)).toBe(why);
  });
});

describe('forward targets - list entries', () => {
  it.each([
    { entry: '127.0.0.1:5432', target: '127.0.0.1:5432', covers: true },
    { entry: '127.0.0.1:5432', target: '127.0.0.1:5433', covers: false },
    { entry: 'db.internal:*', target: 'DB.internal:6379', covers: true },
    { entry: 'db.internal:*', target: 'db.internal.evil:6379', covers: false },
    { entry: '10.0.0.0/8:5432', target: '10.2.3.4:5432', covers: true },
    { entry: '10.0.0.0/8:5432', target: '11.2.3.4:5432', covers: false },
    { entry: '10.0.0.0/8:*', target: 'ten.internal:5432', covers: false },
    { entry: '169.254.169.254:80', target: '169.254.169.254:80', covers: true },
    { entry: '[fd00:ec2::254]:80', target: '[fd00:ec2:0::254]:80', covers: true },
    { entry: 'fd00:ec2::254:80', target: '[fd00:ec2::254]:80', covers: true },
    { entry: 'fd00::/8:*', target: '[fd12::1]:22', covers: true },
    { entry: '10.0.0.0/99:*', target: '10.0.0.1:22', covers: false },
    { entry: 'no-port', target: 'no-port:1', covers: false },
  ])('entry - $entry covers $target: $covers', ({ entry, target, covers }) => {
    expect(entryCovers(entry, parseTarget(target))).toBe(covers);
  });
});
