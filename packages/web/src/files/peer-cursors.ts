/**
 * Other people's cursors and selections in a shared document, and this editor's own cursor
 * published for them through Yjs awareness. Colours are classes from a small palette: the
 * site's CSP refuses inline style attributes, so nothing here sets one.
 */
import { StateEffect, type Extension, type Range } from '@codemirror/state';
import {
  Decoration,
  EditorView,
  ViewPlugin,
  WidgetType,
  type DecorationSet,
  type ViewUpdate,
} from '@codemirror/view';
import * as Y from 'yjs';
import type { Awareness } from 'y-protocols/awareness';

/** How many colours people get; the index is the awareness state's `user.color`. */
export const PEER_COLORS = 6;

export interface PeerUser {
  name: string;
  color: number;
}

interface CursorState {
  anchor: unknown;
  head: unknown;
}

const peersChanged = StateEffect.define<null>();

class CaretWidget extends WidgetType {
  constructor(
    readonly name: string,
    readonly color: number,
  ) {
    super();
  }

  override eq(other: CaretWidget): boolean {
    return other.name === this.name && other.color === this.color;
  }

  toDOM(): HTMLElement {
    const caret = document.createElement('span');
    caret.className = `cm-peer-caret cm-peer-${this.color}`;
    caret.setAttribute('data-peer', this.name);
    const label = document.createElement('span');
    label.className = 'cm-peer-name';
    // A person's name is text, never markup.
    label.textContent = this.name;
    caret.append(label);
    return caret;
  }

  override ignoreEvent(): boolean {
    return true;
  }
}

/**
 * Draws everyone else's cursor and selection; with `publish`, also announces this editor's
 * own selection (kept after the editor loses focus, so watchers still see where it was).
 */
export function peerCursors(ytext: Y.Text, awareness: Awareness, publish: boolean): Extension {
  const plugin = ViewPlugin.fromClass(
    class {
      decorations: DecorationSet;
      private readonly onChange = (_: unknown, origin: unknown) => {
        // Our own announcement happens inside an update; only others' changes redraw.
        if (origin !== 'local') this.view.dispatch({ effects: peersChanged.of(null) });
      };

      constructor(readonly view: EditorView) {
        this.decorations = decorationsFor(view, ytext, awareness);
        awareness.on('change', this.onChange);
      }

      update(update: ViewUpdate): void {
        if (publish && (update.selectionSet || update.focusChanged) && update.view.hasFocus)
          announce(update.view, ytext, awareness);
        this.decorations = decorationsFor(update.view, ytext, awareness);
      }

      destroy(): void {
        awareness.off('change', this.onChange);
      }
    },
    { decorations: (plugin) => plugin.decorations },
  );
  return [plugin, theme];
}

function announce(view: EditorView, ytext: Y.Text, awareness: Awareness): void {
  const { anchor, head } = view.state.selection.main;
  const cursor: CursorState = {
    anchor: Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(ytext, anchor)),
    head: Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(ytext, head)),
  };
  const current = awareness.getLocalState()?.cursor as CursorState | undefined;
  if (current && JSON.stringify(current) === JSON.stringify(cursor)) return;
  awareness.setLocalStateField('cursor', cursor);
}

function decorationsFor(view: EditorView, ytext: Y.Text, awareness: Awareness): DecorationSet {
  const ranges: Range<Decoration>[] = [];
  const length = view.state.doc.length;
  for (const [clientId, state] of awareness.getStates()) {
    if (clientId === awareness.clientID) continue;
    const cursor = state.cursor as CursorState | undefined;
    if (!cursor) continue;
    const anchor = absolute(ytext, cursor.anchor);
    const head = absolute(ytext, cursor.head);
    if (anchor === null || head === null || anchor > length || head > length) continue;
    const user = userOf(state.user);
    const from = Math.min(anchor, head);
    const to = Math.max(anchor, head);
    if (from < to)
      ranges.push(
        Decoration.mark({ class: `cm-peer-selection cm-peer-${user.color}` }).range(from, to),
      );
    ranges.push(
      Decoration.widget({ widget: new CaretWidget(user.name, user.color), side: 1 }).range(head),
    );
  }
  return Decoration.set(ranges, true);
}

function absolute(ytext: Y.Text, json: unknown): number | null {
  if (!json || typeof json !== 'object') return null;
  try {
    const position = Y.createAbsolutePositionFromRelativePosition(
      Y.createRelativePositionFromJSON(json),
      ytext.doc!,
    );
    return position && position.type === ytext ? position.index : null;
  } catch {
    // A malformed position from a peer: that peer's cursor is not drawn.
    return null;
  }
}

function userOf(user: unknown): PeerUser {
  const u = (user ?? {}) as { name?: unknown; color?: unknown };
  const name = typeof u.name === 'string' && u.name.length > 0 ? u.name.slice(0, 64) : 'someone';
  const color = Number.isInteger(u.color) ? Math.abs(u.color as number) % PEER_COLORS : 0;
  return { name, color };
}

/** Readable on the dark theme; each colour is a caret, a label, and a translucent selection. */
const PALETTE = ['#f59f00', '#4dabf7', '#69db7c', '#f783ac', '#b197fc', '#ff8787'];

const theme = EditorView.baseTheme({
  '.cm-peer-caret': {
    position: 'relative',
    borderLeft: '2px solid',
    marginLeft: '-1px',
    marginRight: '-1px',
  },
  '.cm-peer-name': {
    position: 'absolute',
    top: '-1.35em',
    left: '-2px',
    fontSize: '11px',
    lineHeight: '1.3',
    padding: '0 4px',
    borderRadius: '3px 3px 3px 0',
    color: '#111',
    whiteSpace: 'nowrap',
    pointerEvents: 'none',
    userSelect: 'none',
    zIndex: '10',
  },
  ...Object.fromEntries(
    PALETTE.flatMap((color, i) => [
      [`.cm-peer-caret.cm-peer-${i}`, { borderLeftColor: color }],
      [`.cm-peer-caret.cm-peer-${i} .cm-peer-name`, { backgroundColor: color }],
      [`.cm-peer-selection.cm-peer-${i}`, { backgroundColor: `${color}40` }],
    ]),
  ),
});
