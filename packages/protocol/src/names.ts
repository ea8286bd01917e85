/** Names people read (agents, accounts, users): printable, and unable to reorder what follows. */
import { z } from 'zod';

/**
 * C0 and C1 controls (terminal escapes, newlines) and the Unicode direction marks and
 * overrides, which can make `evil‮txt.exe` display as `evilexe.txt` (CVE-2021-42574's trick).
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isSafeText(text: string): boolean {
  return !UNSAFE.test(text);
}

export function displayName(max: number) {
  return z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((name) => !UNSAFE.test(name), 'must not contain control or text-direction characters');
}

/** Things looked up by "name or id" must not have a name that is some other thing's id. */
export function lookupName(max: number) {
  return displayName(max).refine((name) => !UUID_SHAPE.test(name), 'must not look like an id');
}
