/** Which highlighting a file gets, by its name and folder; unknown files stay plain text. */
import type { Extension } from '@codemirror/state';
import { StreamLanguage } from '@codemirror/language';
import { javascript } from '@codemirror/lang-javascript';
import { json } from '@codemirror/lang-json';
import { markdown } from '@codemirror/lang-markdown';
import { python } from '@codemirror/lang-python';
import { yaml } from '@codemirror/lang-yaml';
import { css } from '@codemirror/legacy-modes/mode/css';
import { diff } from '@codemirror/legacy-modes/mode/diff';
import { dockerFile } from '@codemirror/legacy-modes/mode/dockerfile';
import { go } from '@codemirror/legacy-modes/mode/go';
import { lua } from '@codemirror/legacy-modes/mode/lua';
import { nginx } from '@codemirror/legacy-modes/mode/nginx';
import { perl } from '@codemirror/legacy-modes/mode/perl';
import { properties } from '@codemirror/legacy-modes/mode/properties';
import { ruby } from '@codemirror/legacy-modes/mode/ruby';
import { rust } from '@codemirror/legacy-modes/mode/rust';
import { shell } from '@codemirror/legacy-modes/mode/shell';
import { standardSQL } from '@codemirror/legacy-modes/mode/sql';
import { toml } from '@codemirror/legacy-modes/mode/toml';
import { html, xml } from '@codemirror/legacy-modes/mode/xml';

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

export function languageFor(path: string): Extension {
  const stream = (parser: Parameters<typeof StreamLanguage.define>[0]) =>
    StreamLanguage.define(parser);
  switch (languageNameFor(path)) {
    case 'javascript':
      return javascript({ jsx: true });
    case 'typescript':
      return javascript({ typescript: true, jsx: path.endsWith('x') });
    case 'json':
      return json();
    case 'markdown':
      return markdown();
    case 'python':
      return python();
    case 'yaml':
      return yaml();
    case 'css':
      return stream(css);
    case 'diff':
      return stream(diff);
    case 'dockerfile':
      return stream(dockerFile);
    case 'go':
      return stream(go);
    case 'html':
      return stream(html);
    case 'ini':
      return stream(properties);
    case 'lua':
      return stream(lua);
    case 'nginx':
      return stream(nginx);
    case 'perl':
      return stream(perl);
    case 'ruby':
      return stream(ruby);
    case 'rust':
      return stream(rust);
    case 'shell':
      return stream(shell);
    case 'sql':
      return stream(standardSQL);
    case 'toml':
      return stream(toml);
    case 'xml':
      return stream(xml);
    case 'text':
      return [];
  }
}
