/** The xterm.js screen: a dark theme, fitted to its box; the parent decides where bytes go. */
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef } from 'react';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { nonceScriptStyles } from './style-nonce.ts';

export const TERMINAL_THEME = {
  background: '#0d1117',
  foreground: '#e6edf3',
  cursor: '#58a6ff',
  cursorAccent: '#0d1117',
  selectionBackground: '#264f78',
  black: '#484f58',
  red: '#ff7b72',
  green: '#3fb950',
  yellow: '#d29922',
  blue: '#58a6ff',
  magenta: '#bc8cff',
  cyan: '#39c5cf',
  white: '#b1bac4',
  brightBlack: '#6e7681',
  brightRed: '#ffa198',
  brightGreen: '#56d364',
  brightYellow: '#e3b341',
  brightBlue: '#79c0ff',
  brightMagenta: '#d2a8ff',
  brightCyan: '#56d4dd',
  brightWhite: '#f0f6fc',
};

export interface ScreenHandle {
  terminal: Terminal;
  fit: () => { cols: number; rows: number } | null;
}

export function TerminalScreen({
  onReady,
  label,
}: {
  onReady: (handle: ScreenHandle | null) => void;
  label: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const ready = useRef(onReady);
  ready.current = onReady;

  useEffect(() => {
    nonceScriptStyles();
    const terminal = new Terminal({
      theme: TERMINAL_THEME,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 14,
      cursorBlink: true,
      scrollback: 5000,
      convertEol: false,
    });
    const fitAddon = new FitAddon();
    terminal.loadAddon(fitAddon);
    terminal.open(box.current!);
    const fit = () => {
      try {
        fitAddon.fit();
        return { cols: terminal.cols, rows: terminal.rows };
      } catch {
        return null;
      }
    };
    fit();
    ready.current({ terminal, fit });
    return () => {
      ready.current(null);
      terminal.dispose();
    };
  }, []);

  return (
    <div
      ref={box}
      className="terminal-screen"
      role="region"
      aria-label={label}
      data-testid="terminal"
    />
  );
}
