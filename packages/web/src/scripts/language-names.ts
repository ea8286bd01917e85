/** Which highlighting a package file gets, by its extension; no CodeMirror code is loaded here. */

export type LanguageId =
  | 'javascript'
  | 'typescript'
  | 'json'
  | 'markdown'
  | 'python'
  | 'yaml'
  | 'shell'
  | 'toml'
  | 'ini'
  | 'sql'
  | 'xml'
  | 'css'
  | 'diff';

const LABELS: Record<LanguageId, string> = {
  javascript: 'JavaScript',
  typescript: 'TypeScript',
  json: 'JSON',
  markdown: 'Markdown',
  python: 'Python',
  yaml: 'YAML',
  shell: 'Shell',
  toml: 'TOML',
  ini: 'INI',
  sql: 'SQL',
  xml: 'XML',
  css: 'CSS',
  diff: 'Diff',
};

/** Scripts run as JavaScript in the agent's sandbox; the rest is what packages carry beside it. */
const BY_EXTENSION: Record<string, LanguageId> = {
  js: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  ts: 'typescript',
  mts: 'typescript',
  json: 'json',
  md: 'markdown',
  markdown: 'markdown',
  py: 'python',
  yml: 'yaml',
  yaml: 'yaml',
  sh: 'shell',
  bash: 'shell',
  toml: 'toml',
  ini: 'ini',
  conf: 'ini',
  env: 'ini',
  sql: 'sql',
  xml: 'xml',
  svg: 'xml',
  html: 'xml',
  css: 'css',
  diff: 'diff',
  patch: 'diff',
};

export function languageOf(fileName: string): LanguageId | undefined {
  const name = fileName.toLowerCase();
  const dot = name.lastIndexOf('.');
  return dot < 0 ? undefined : BY_EXTENSION[name.slice(dot + 1)];
}

/** The language's name as the viewer labels it; `Plain text` when none applies. */
export function languageLabel(fileName: string): string {
  const id = languageOf(fileName);
  return id ? LABELS[id] : 'Plain text';
}
