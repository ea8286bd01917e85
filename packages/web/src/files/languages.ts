/** Which highlighting a file gets, by its name and folder; unknown files stay plain text. */
import type { Extension } from '@codemirror/state';
import { StreamLanguage, type StreamParser } from '@codemirror/language';

export type LanguageName =
  | 'javascript'
  | 'typescript'
  | 'json'
  | 'markdown'
  | 'python'
  | 'yaml'
  | 'css'
  | 'diff'
  | 'dockerfile'
  | 'go'
  | 'html'
  | 'ini'
  | 'lua'
  | 'nginx'
  | 'perl'
  | 'ruby'
  | 'rust'
  | 'shell'
  | 'sql'
  | 'toml'
  | 'xml'
  | 'text';

const BY_EXTENSION: Record<string, LanguageName> = {
  js: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  jsx: 'javascript',
  ts: 'typescript',
  mts: 'typescript',
  cts: 'typescript',
  tsx: 'typescript',
  json: 'json',
  md: 'markdown',
  markdown: 'markdown',
  py: 'python',
  yml: 'yaml',
  yaml: 'yaml',
  css: 'css',
  diff: 'diff',
  patch: 'diff',
  go: 'go',
  html: 'html',
  htm: 'html',
  ini: 'ini',
  cfg: 'ini',
  cnf: 'ini',
  env: 'ini',
  properties: 'ini',
  service: 'ini',
  timer: 'ini',
  socket: 'ini',
  lua: 'lua',
  pl: 'perl',
  pm: 'perl',
  rb: 'ruby',
  rs: 'rust',
  sh: 'shell',
  bash: 'shell',
  zsh: 'shell',
  sql: 'sql',
  toml: 'toml',
  xml: 'xml',
  svg: 'xml',
};

const BY_NAME: Record<string, LanguageName> = {
  dockerfile: 'dockerfile',
  containerfile: 'dockerfile',
  '.bashrc': 'shell',
  '.profile': 'shell',
  '.bash_profile': 'shell',
  '.zshrc': 'shell',
  '.env': 'ini',
  'nginx.conf': 'nginx',
  gemfile: 'ruby',
  rakefile: 'ruby',
};

export function languageNameFor(path: string): LanguageName {
  const name = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  const known = BY_NAME[name];
  if (known) return known;
  if (/\/nginx\//.test(path) && (name.endsWith('.conf') || !name.includes('.'))) return 'nginx';
  const dot = name.lastIndexOf('.');
  if (dot > 0) return BY_EXTENSION[name.slice(dot + 1)] ?? 'text';
  if (name.startsWith('.') && BY_EXTENSION[name.slice(1)]) return BY_EXTENSION[name.slice(1)]!;
  return 'text';
}

/**
 * The highlighting for `path`, loaded on demand so the editor's first chunk stays small; each
 * language is its own chunk, fetched the first time a file of its kind opens.
 */
export async function loadLanguage(path: string): Promise<Extension> {
  const stream = (parser: StreamParser<unknown>) => StreamLanguage.define(parser);
  switch (languageNameFor(path)) {
    case 'javascript':
      return (await import('@codemirror/lang-javascript')).javascript({ jsx: true });
    case 'typescript':
      return (await import('@codemirror/lang-javascript')).javascript({
        typescript: true,
        jsx: path.endsWith('x'),
      });
    case 'json':
      return (await import('@codemirror/lang-json')).json();
    case 'markdown':
      return (await import('@codemirror/lang-markdown')).markdown();
    case 'python':
      return (await import('@codemirror/lang-python')).python();
    case 'yaml':
      return (await import('@codemirror/lang-yaml')).yaml();
    case 'css':
      return stream((await import('@codemirror/legacy-modes/mode/css')).css);
    case 'diff':
      return stream((await import('@codemirror/legacy-modes/mode/diff')).diff);
    case 'dockerfile':
      return stream((await import('@codemirror/legacy-modes/mode/dockerfile')).dockerFile);
    case 'go':
      return stream((await import('@codemirror/legacy-modes/mode/go')).go);
    case 'html':
      return stream((await import('@codemirror/legacy-modes/mode/xml')).html);
    case 'ini':
      return stream((await import('@codemirror/legacy-modes/mode/properties')).properties);
    case 'lua':
      return stream((await import('@codemirror/legacy-modes/mode/lua')).lua);
    case 'nginx':
      return stream((await import('@codemirror/legacy-modes/mode/nginx')).nginx);
    case 'perl':
      return stream((await import('@codemirror/legacy-modes/mode/perl')).perl);
    case 'ruby':
      return stream((await import('@codemirror/legacy-modes/mode/ruby')).ruby);
    case 'rust':
      return stream((await import('@codemirror/legacy-modes/mode/rust')).rust);
    case 'shell':
      return stream((await import('@codemirror/legacy-modes/mode/shell')).shell);
    case 'sql':
      return stream((await import('@codemirror/legacy-modes/mode/sql')).standardSQL);
    case 'toml':
      return stream((await import('@codemirror/legacy-modes/mode/toml')).toml);
    case 'xml':
      return stream((await import('@codemirror/legacy-modes/mode/xml')).xml);
    case 'text':
      return [];
  }
}
