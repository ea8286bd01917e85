/** Free text people write (questions, chat): kept exactly as given; text, never markup. */
import { z } from 'zod';

/** A UTF-16 surrogate without its partner: JSON can carry one, UTF-8 storage cannot. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Up to `maxChars` UTF-16 code units, stored and returned byte for byte: HTML, script and
 * newlines stay what they are, text, and the site renders them as text. Refused: blank text,
 * NUL (PostgreSQL's text type cannot hold it) and lone surrogates (not representable in UTF-8,
 * so the stored text would silently differ from what was sent).
 */
export function plainText(maxChars: number) {
  return z
    .string()
    .max(maxChars)
    .refine((text) => text.trim().length > 0, 'must not be empty')
    .refine((text) => !text.includes('\0'), 'must not contain a NUL character')
    .refine((text) => !LONE_SURROGATE.test(text), 'must be valid Unicode text');
}
