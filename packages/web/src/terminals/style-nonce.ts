/**
 * xterm.js writes its theme, cell sizes and scrollbar colours into `<style>` elements it creates
 * with `document.createElement('style')`, without a nonce, and offers no option for one. The
 * site's CSP allows only styles carrying this page's nonce, so those elements would be refused.
 * This gives every `<style>` the site's own scripts create the page's nonce (the same thing
 * get-nonce does for react-remove-scroll); markup that reaches the page any other way still
 * has no nonce, so the CSP keeps refusing injected styles.
 */
let installed = false;

export function nonceScriptStyles(doc: Document = document): void {
  if (installed) return;
  const nonce = doc.querySelector('meta[name="csp-nonce"]')?.getAttribute('content');
  if (!nonce) return;
  installed = true;
  const original = doc.createElement.bind(doc) as (tag: string, options?: unknown) => Element;
  doc.createElement = function createElement(tag: string, options?: ElementCreationOptions) {
    const element = original(tag, options);
    if (element instanceof HTMLStyleElement) element.nonce = nonce;
    return element;
  } as Document['createElement'];
}
