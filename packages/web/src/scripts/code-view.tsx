/**
 * A package file as read-only, highlighted text (CodeMirror 6). The text is the editor's
 * document, never markup: HTML in a file shows as the characters it is made of.
 */
import { useEffect, useRef } from 'react';
import { basicSetup } from 'codemirror';
import { Compartment, EditorState } from '@codemirror/state';
import { EditorView, highlightSpecialChars } from '@codemirror/view';
import { oneDark } from '@codemirror/theme-one-dark';
import { loadLanguage } from './languages.ts';

/** The endpoint writes this page's CSP nonce here; CodeMirror's own styles carry it. */
const nonce = () => document.querySelector('meta[name="csp-nonce"]')?.getAttribute('content') ?? '';

/**
 * Direction controls CodeMirror does not mark by default: with the ones it does, no override can
 * make a line read differently from what it holds (CVE-2021-42574).
 */
const MORE_SPECIAL_CHARS = /[\u202a-\u202c\u2068]/;

export function CodeView({
  text,
  fileName,
  label,
  wrap = false,
}: {
  text: string;
  /** Picks the highlighting by extension. */
  fileName: string;
  /** What a screen reader announces for the text. */
  label: string;
  /** Wrap long lines (prose such as a README); code keeps its lines and scrolls sideways. */
  wrap?: boolean;
}) {
  const host = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const language = new Compartment();
    const view = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: text,
        extensions: [
          basicSetup,
          highlightSpecialChars({ addSpecialChars: MORE_SPECIAL_CHARS }),
          oneDark,
          language.of([]),
          EditorView.cspNonce.of(nonce()),
          // Read-only but focusable: the keyboard moves, selects and searches (Ctrl+F).
          EditorState.readOnly.of(true),
          EditorView.contentAttributes.of({ 'aria-label': label, 'aria-readonly': 'true' }),
          wrap ? EditorView.lineWrapping : [],
        ],
      }),
    });
    let live = true;
    loadLanguage(fileName)
      .then((extension) => {
        if (live) view.dispatch({ effects: language.reconfigure(extension) });
      })
      .catch(() => {
        // A language chunk that fails to load (the site was redeployed): plain text still reads.
      });
    return () => {
      live = false;
      view.destroy();
    };
  }, [text, fileName, label, wrap]);

  return <div ref={host} className="script-code" data-testid="code-view" />;
}
