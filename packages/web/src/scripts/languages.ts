/** Highlighting for a package file; each language is its own chunk, loaded when first shown. */
import type { Extension } from '@codemirror/state';
import { StreamLanguage, type StreamParser } from '@codemirror/language';
import { languageOf } from './language-names.ts';

const legacy = <T>(parser: StreamParser<T>) => StreamLanguage.define(parser);

/** The highlighting for `fileName`, or none. */
export async function loadLanguage(fileName: string): Promise<Extension> {
  switch (languageOf(fileName)) {
    case 'javascript':
      return (await import('@codemirror/lang-javascript')).javascript();
    case 'typescript':
      return (await import('@codemirror/lang-javascript')).javascript({ typescript: true });
    case 'json':
      return (await import('@codemirror/lang-json')).json();
    case 'markdown':
      return (await import('@codemirror/lang-markdown')).markdown();
    case 'python':
      return (await import('@codemirror/lang-python')).python();
    case 'yaml':
      return (await import('@codemirror/lang-yaml')).yaml();
    case 'shell':
      return legacy((await import('@codemirror/legacy-modes/mode/shell')).shell);
    case 'toml':
      return legacy((await import('@codemirror/legacy-modes/mode/toml')).toml);
    case 'ini':
      return legacy((await import('@codemirror/legacy-modes/mode/properties')).properties);
    case 'sql':
      return legacy((await import('@codemirror/legacy-modes/mode/sql')).standardSQL);
    case 'xml':
      return legacy((await import('@codemirror/legacy-modes/mode/xml')).xml);
    case 'css':
      return legacy((await import('@codemirror/legacy-modes/mode/css')).css);
    case 'diff':
      return legacy((await import('@codemirror/legacy-modes/mode/diff')).diff);
    case undefined:
      return [];
  }
}
