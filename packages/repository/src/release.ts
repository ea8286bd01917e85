/**
 * A release is an annotated git tag naming the package's tree, whose message holds the name,
 * version and manifest, followed by the publisher's Ed25519 signature over everything before it.
 */
import type { KeyObject } from 'node:crypto';
import { TetherError } from '@tether/protocol';
import { encodeTag, parseTag, type TagFields } from './objects/git-object.ts';
import { canonicalManifest, parseManifest, type Manifest } from './manifest.ts';
import { signBytes } from './keys.ts';

const SIGNATURE_BEGIN = '-----BEGIN TETHER SIGNATURE-----\n';
const SIGNATURE_END = '-----END TETHER SIGNATURE-----\n';

export interface ReleaseTag {
  name: string;
  version: string;
  tree: string;
  manifest: Manifest;
  /** The manifest exactly as the tag holds it (canonical JSON). */
  manifestText: string;
  tagger: string;
  keyId: string;
  signature: Buffer;
  /** The bytes the signature covers: the tag's content up to the signature block. */
  signed: Buffer;
}

/** Builds and signs the tag content for `manifest` over `tree`. */
export function signedTag(options: {
  manifest: Manifest;
  tree: string;
  publisher: string;
  key: KeyObject;
  keyId: string;
  time?: Date;
}): Buffer {
  const { manifest, tree, publisher } = options;
  const seconds = Math.floor((options.time ?? new Date()).getTime() / 1000);
  const unsigned = encodeTag({
    object: tree,
    type: 'tree',
    tag: `${manifest.name}@${manifest.version}`,
    tagger: `${publisher} <${publisher}@tether> ${seconds} +0000`,
    message: `${manifest.name}@${manifest.version}\n\n${canonicalManifest(manifest)}\n`,
  });
  const signature = signBytes(options.key, unsigned).toString('base64');
  const block = `${SIGNATURE_BEGIN}key ${options.keyId}\nsig ${signature}\n${SIGNATURE_END}`;
  return Buffer.concat([unsigned, Buffer.from(block)]);
}

/** Reads a release tag; checks its shape, not its signature (that needs the key: publish.ts). */
export function parseReleaseTag(content: Buffer): ReleaseTag {
  const text = content.toString('utf8');
  const begin = text.lastIndexOf(`\n${SIGNATURE_BEGIN}`);
  if (begin < 0 || !text.endsWith(SIGNATURE_END)) throw bad('the release tag is not signed');
  const signedText = text.slice(0, begin + 1);
  const block = text.slice(begin + 1 + SIGNATURE_BEGIN.length, text.length - SIGNATURE_END.length);
  const match = /^key (SHA256:[A-Za-z0-9+/]{43})\nsig ([A-Za-z0-9+/]{86}==)\n$/.exec(block);
  if (!match) throw bad('the release tag has a malformed signature block');

  let fields: TagFields;
  try {
    fields = parseTag(Buffer.from(signedText, 'utf8'));
  } catch (error) {
    throw bad('the release tag is not a git tag', error);
  }
  if (fields.type !== 'tree') throw bad('a release tag must name a tree');
  const [title, manifestText, rest] = splitMessage(fields.message);
  const manifest = parseManifest(manifestText, 'the release tag manifest');
  if (rest !== '' || manifestText !== canonicalManifest(manifest)) {
    throw bad('the release tag manifest is not in canonical form');
  }
  const expected = `${manifest.name}@${manifest.version}`;
  if (fields.tag !== expected || title !== expected) {
    throw bad(`the release tag is named "${fields.tag}" but its manifest says ${expected}`);
  }
  return {
    name: manifest.name,
    version: manifest.version,
    tree: fields.object,
    manifest,
    manifestText,
    tagger: fields.tagger,
    keyId: match[1],
    signature: Buffer.from(match[2], 'base64'),
    signed: Buffer.from(signedText, 'utf8'),
  };
}

function splitMessage(message: string): [string, string, string] {
  const lines = message.split('\n');
  // title, blank, manifest, then nothing but the final newline
  if (lines.length < 4 || lines[1] !== '') throw bad('the release tag message is malformed');
  return [lines[0], lines[2], lines.slice(3).join('\n')];
}

function bad(message: string, cause?: unknown): TetherError {
  return new TetherError('invalid_request', message, cause === undefined ? undefined : { cause });
}
