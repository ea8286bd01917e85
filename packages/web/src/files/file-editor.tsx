/**
 * CodeMirror 6 on a file: bound to the session's shared Y.Doc (the engineer types, watchers see
 * it and the engineer's cursor as it happens), or on plain text for read-only pages.
 */
import { useEffect, useRef } from 'react';
import { basicSetup } from 'codemirror';
import { Compartment, EditorState, Prec, type Extension } from '@codemirror/state';
import { EditorView, keymap } from '@codemirror/view';
import { oneDark } from '@codemirror/theme-one-dark';
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next';
import * as Y from 'yjs';
import type { Awareness } from 'y-protocols/awareness';
import { FILE_LIVE_TEXT } from '@tether/protocol/file-live-frames';
import { loadLanguage } from './languages.ts';
import { peerCursors } from './peer-cursors.ts';

/** The endpoint writes this page's CSP nonce here; CodeMirror's own styles carry it. */
const nonce = () => document.querySelector('meta[name="csp-nonce"]')?.getAttribute('content') ?? '';

function common(language: Compartment, label: string, readOnly: boolean): Extension {
  return [
    basicSetup,
    oneDark,
    language.of([]),
    EditorView.cspNonce.of(nonce()),
    EditorState.readOnly.of(readOnly),
    EditorView.contentAttributes.of({ 'aria-label': label }),
    EditorView.theme({ '&': { height: '100%' }, '.cm-scroller': { overflow: 'auto' } }),
  ];
}

/** Highlighting arrives when its language chunk has loaded; until then the text is plain. */
function highlight(view: EditorView, language: Compartment, path: string): void {
  loadLanguage(path)
    .then((extension) => {
      // A view destroyed meanwhile (another file opened) has left the page.
      if (!view.dom.isConnected) return;
      view.dispatch({ effects: language.reconfigure(extension) });
    })
    .catch(() => {
      // A language chunk that fails to load (the site was redeployed): plain text still works.
    });
}

export function SharedEditor({
  doc,
  awareness,
  path,
  readOnly,
  onSave,
  onChange,
}: {
  doc: Y.Doc;
  awareness: Awareness;
  path: string;
  readOnly: boolean;
  /** Ctrl/Cmd-S. */
  onSave?: () => void;
  /** The text after each change, local or remote. */
  onChange?: (text: string) => void;
}) {
  const host = useRef<HTMLDivElement>(null);
  const latest = useRef({ onSave, onChange });
  latest.current = { onSave, onChange };

  useEffect(() => {
    const ytext = doc.getText(FILE_LIVE_TEXT);
    const undoManager = new Y.UndoManager(ytext);
    const language = new Compartment();
    const view = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: ytext.toString(),
        extensions: [
          common(language, readOnly ? `${path} (read-only)` : path, readOnly),
          yCollab(ytext, null, { undoManager }),
          Prec.highest(keymap.of(yUndoManagerKeymap)),
          peerCursors(ytext, awareness, !readOnly),
          Prec.highest(
            keymap.of([
              {
                key: 'Mod-s',
                preventDefault: true,
                run: () => {
                  latest.current.onSave?.();
                  return true;
                },
              },
            ]),
          ),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) latest.current.onChange?.(update.state.doc.toString());
          }),
        ],
      }),
    });
    highlight(view, language, path);
    latest.current.onChange?.(view.state.doc.toString());
    return () => {
      view.destroy();
      undoManager.destroy();
    };
  }, [doc, awareness, path, readOnly]);

  return (
    <div ref={host} className="file-editor" data-testid="file-editor" data-readonly={readOnly} />
  );
}

/** A read-only page of text (large files, one page at a time). */
export function TextView({
  text,
  path,
  label,
  followEnd,
}: {
  text: string;
  path: string;
  label: string;
  /** Keep the last line in view, for following a growing log. */
  followEnd?: boolean;
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);

  useEffect(() => {
    const language = new Compartment();
    const created = new EditorView({
      parent: host.current!,
      state: EditorState.create({ doc: '', extensions: common(language, label, true) }),
    });
    highlight(created, language, path);
    view.current = created;
    return () => created.destroy();
  }, [path, label]);

  useEffect(() => {
    const current = view.current;
    if (!current) return;
    current.dispatch({ changes: { from: 0, to: current.state.doc.length, insert: text } });
    if (!followEnd) return;
    // Once the new text is laid out: a view made in this same commit has no height before.
    const frame = requestAnimationFrame(() =>
      current.dispatch({ effects: EditorView.scrollIntoView(text.length, { y: 'end' }) }),
    );
    return () => cancelAnimationFrame(frame);
  }, [text, followEnd]);

  return <div ref={host} className="file-editor" data-testid="text-view" />;
}
