/** The words a package is found by: name segments, description words and tags, lower-cased. */
import type { Manifest } from './manifest.ts';

/** Words shorter than this match too much to be worth indexing ("a", "of"). */
const MIN_TERM_LENGTH = 2;
const MAX_TERM_LENGTH = 40;
const MAX_TERMS = 200;

export function searchTerms(manifest: Pick<Manifest, 'name' | 'description' | 'tags'>): string[] {
  const terms = new Set<string>([manifest.name]);
  for (const word of words(manifest.name)) terms.add(word);
  for (const word of words(manifest.description)) terms.add(word);
  for (const tag of manifest.tags) terms.add(tag);
  return [...terms].filter((t) => t.length >= MIN_TERM_LENGTH).slice(0, MAX_TERMS);
}

/** A search query's words, split the same way, with LIKE's wildcards impossible in them. */
export function queryWords(query: string): string[] {
  return words(query)
    .filter((w) => w.length > 0)
    .slice(0, 8);
}

function words(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
    .map((w) => w.slice(0, MAX_TERM_LENGTH));
}
