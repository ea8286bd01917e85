/**
 * The live file socket's constants, apart from its schemas so the site can use them without
 * zod (whose start-up probe for `new Function` the site's CSP reports as a refused script).
 */

/** First byte of a binary frame: a y-protocols sync message of the open document. */
export const FILE_LIVE_SYNC = 0;
/** First byte of a binary frame: a y-protocols awareness update (cursors and selections). */
export const FILE_LIVE_AWARENESS = 1;
/** The Y.Text of a shared document that holds the file's content. */
export const FILE_LIVE_TEXT = 'content';
/**
 * Most entries one listing message carries: it keeps the message a small part of a socket's
 * 1 MiB; the editor says when it cut a longer folder.
 */
export const FILE_LIVE_LISTING_MAX = 2000;
