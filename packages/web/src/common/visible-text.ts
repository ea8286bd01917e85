/** Makes text from servers safe to look at: control and direction characters become visible. */

/**
 * C0 and C1 controls (ESC starts terminal escape sequences) and the Unicode direction
 * overrides that can make a command read differently from what runs (CVE-2021-42574).
 * Tab and newline stay as they are.
 */
const INVISIBLE =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `\x1b[31m` shows as `\x1b[31m`, not as a colour change or nothing. */
export function visibleText(text: string): string {
  return text.replace(INVISIBLE, (char) => {
    const code = char.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
