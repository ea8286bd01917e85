/** `script.json`: what a package says about itself. Parsed as data and checked; never run. */
import semver from 'semver';
import { z } from 'zod';
import { isSafeText, TetherError } from '@tether/protocol';

export const MANIFEST_FILE = 'script.json';
/** A manifest is a few KiB; anything near this is not a manifest. */
export const MAX_MANIFEST_BYTES = 64 * 1024;

/** Who may see a package's version; `canSee` in visibility.ts maps each onto roles. */
export const VISIBILITIES = ['public', 'customers', 'staff', 'team', 'owners'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

/** Lowercase segments joined by `/`, e.g. `acme/disk/usage`; npm's limit of 214 characters. */
const NAME_SEGMENT = /^[a-z0-9][a-z0-9._-]*$/;
const MAX_NAME_LENGTH = 214;
const MAX_NAME_DEPTH = 8;
const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;
const TAG = /^[a-z0-9][a-z0-9-]{0,31}$/;

/** What a script may ask for; the agent's sandbox grants no more than the policy allows. */
export const CAPABILITIES = ['fs.read', 'fs.write', 'exec', 'http', 'env'] as const;

export const packageName = z
  .string()
  .max(MAX_NAME_LENGTH, `a name is at most ${MAX_NAME_LENGTH} characters`)
  .refine((name) => {
    const segments = name.split('/');
    return segments.length <= MAX_NAME_DEPTH && segments.every((s) => NAME_SEGMENT.test(s));
  }, `a name is up to ${MAX_NAME_DEPTH} lowercase segments joined by "/", e.g. acme/disk/usage`);

const version = z
  .string()
  .max(64)
  .refine(
    (v) => semver.valid(v) === v && !v.includes('+'),
    'must be a semantic version such as 1.2.3 (no build metadata)',
  );

const range = z
  .string()
  .max(256)
  .refine((r) => semver.validRange(r) !== null, 'must be a semver range such as ^1.2.0');

const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((t) => isSafeText(t.replace(/\n/g, ' ')), 'must not hold control characters');

const capabilityValue = z
  .array(text(512).pipe(z.string().min(1)))
  .max(64)
  .describe('paths, commands, hosts or names the script needs');

export const Manifest = z.strictObject({
  name: packageName,
  version,
  description: text(1000).default(''),
  tags: z
    .array(z.string().regex(TAG, 'tags are lowercase letters, digits and -'))
    .max(20)
    .default([]),
  owners: z
    .array(z.string().regex(USERNAME, 'owners are usernames'))
    .min(1, 'a package needs at least one owner')
    .max(50),
  visibility: z.enum(VISIBILITIES),
  dependencies: z
    .record(packageName, range)
    .default({})
    .refine((deps) => Object.keys(deps).length <= 100, 'at most 100 dependencies'),
  capabilities: z
    .partialRecord(z.enum(CAPABILITIES), capabilityValue)
    .default({})
    .refine((caps) => Object.keys(caps).every((k) => CAPABILITIES.includes(k as never)), {
      message: `capabilities are ${CAPABILITIES.join(', ')}`,
    }),
});

export type Manifest = z.infer<typeof Manifest>;

/**
 * Parses manifest bytes. JSON.parse only: nothing in a manifest is ever evaluated, and the
 * first problem is named with its field, e.g. `script.json: version: must be a semantic…`.
 */
export function parseManifest(bytes: Buffer | string, where = MANIFEST_FILE): Manifest {
  const raw = typeof bytes === 'string' ? bytes : bytes.toString('utf8');
  if (Buffer.byteLength(raw) > MAX_MANIFEST_BYTES) {
    throw new TetherError('invalid_request', `${where} is larger than ${MAX_MANIFEST_BYTES} bytes`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new TetherError('invalid_request', `${where} is not valid JSON`, { cause: error });
  }
  const result = Manifest.safeParse(json);
  if (result.success) {
    const owners = new Set(result.data.owners.map((o) => o.toLowerCase()));
    if (owners.size !== result.data.owners.length) {
      throw new TetherError('invalid_request', `${where}: owners: an owner is listed twice`);
    }
    if (Object.keys(result.data.dependencies).includes(result.data.name)) {
      throw new TetherError(
        'invalid_request',
        `${where}: dependencies: a package cannot need itself`,
      );
    }
    return result.data;
  }
  const issue = result.error.issues[0];
  const path = issue.path.length ? `${issue.path.join('.')}: ` : '';
  const message =
    issue.code === 'unrecognized_keys'
      ? `unknown field ${issue.keys.join(', ')}${issue.path.length ? ` in ${issue.path.join('.')}` : ''}`
      : `${path}${issue.message.charAt(0).toLowerCase()}${issue.message.slice(1)}`;
  throw new TetherError('invalid_request', `${where}: ${message}`);
}

/** The manifest as stored in the tag and the index: keys in a fixed order, no extra space. */
export function canonicalManifest(m: Manifest): string {
  const ordered = {
    name: m.name,
    version: m.version,
    description: m.description,
    tags: m.tags,
    owners: m.owners,
    visibility: m.visibility,
    dependencies: sortKeys(m.dependencies),
    capabilities: sortKeys(m.capabilities),
  };
  return JSON.stringify(ordered);
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));
}
