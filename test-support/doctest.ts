/**
 * Doc examples that run. `extractDocExamples` finds the ```ts blocks inside `@example` tags of the
 * doc comments in packages/{tensor,autograd,nn}/src; `extractMarkdownExamples` finds the blocks of
 * a guide fenced as ```ts runnable. `writeExampleModule` turns one block into a module whose
 * default export runs it, with the names it uses imported first, so that a doc example stays as
 * short as the page it sits on: `new GRUCell(...)` needs no import line in GRUCell's own comment.
 *
 * Which name comes from where: a block's own `import` lines win; then the packages, its own
 * package first (@wgru/nn, then @wgru/autograd, then @wgru/tensor for nn and the guides, where
 * `matmul` should be the differentiable one); then the other exports of the source file it
 * documents (so an internal helper's example can use that helper). Names are imported only when
 * they occur in the block. Type-only exports are imported with `import type`, so the modules also
 * typecheck.
 *
 * `checkQuotes` keeps a guide honest: a code block right after a link to `file.ts#L10-L12` must be
 * those lines of that file as they are now, and a link named after an identifier must land on it.
 * When code has only moved, `fixQuotes` renumbers the links:
 *
 *   node_modules/.bin/tsx --conditions=wgru-source test-support/doctest.ts fix docs/from-equations-to-code.md
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

/** The packages whose doc comments hold examples, lowest layer first. */
export const DOC_PACKAGES = ['tensor', 'autograd', 'nn'] as const;
export type DocPackage = (typeof DOC_PACKAGES)[number];

export interface DocExample {
  /** The package the example documents, or 'docs' for a guide. */
  pkg: DocPackage | 'docs';
  /** Repository-relative path of the file that holds it. */
  file: string;
  /** 1-based line of the block's first code line in that file. */
  line: number;
  /** What it documents: the declaration after the comment (`GRUCell`, `Variable.backward`), `module`, or the guide's heading. */
  symbol: string;
  code: string;
}

/** Names a module exports, split into values (importable at run time) and type-only names. */
export interface ExportTable {
  values: Set<string>;
  types: Set<string>;
}

export interface Exports {
  /** By package name: '@wgru/tensor', ... */
  packages: Map<string, ExportTable>;
  /** By absolute source file path. */
  files: Map<string, ExportTable>;
  /** The program they were read from (reused by `typecheckExamples`). */
  program: ts.Program;
}

/** A written example module. */
export interface ExampleModule {
  example: DocExample;
  /** Absolute path of the generated .ts file. */
  path: string;
  /** 1-based line of the generated file that holds the block's first line. */
  bodyLine: number;
}

const PACKAGE_NAME = (p: DocPackage): string => `@wgru/${p}`;

/** Where a block's names are looked up, most specific first. */
const PRECEDENCE: Record<DocPackage | 'docs', readonly DocPackage[]> = {
  tensor: ['tensor', 'autograd', 'nn'],
  autograd: ['autograd', 'tensor', 'nn'],
  nn: ['nn', 'autograd', 'tensor'],
  docs: ['nn', 'autograd', 'tensor'],
};

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(p));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(p);
  }
  return out.sort();
}

const lineAt = (text: string, index: number): number => text.slice(0, index).split('\n').length;

/** The name of the declaration that follows a doc comment, `module` for a file's opening comment. */
function documentedSymbol(comment: string, after: string): string {
  if (/@(module|packageDocumentation)\b/.test(comment)) return 'module';
  const next = after.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('//')) ?? '';
  if (/^\s*import\b/.test(next)) return 'module';
  const decl =
    /^\s*export\s+(?:default\s+)?(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?(?:class|function\*?|const|let|interface|type|enum)\s+([\w$]+)/.exec(
      next,
    );
  if (decl) return decl[1] as string;
  const member =
    /^\s*(?:(?:public|protected|private|static|readonly|async|override|get|set|abstract)\s+)*(#?[\w$]+)\s*[(<:=?]/.exec(
      next,
    );
  return member ? `.${member[1]}` : '?';
}

/** The ```ts blocks of `@example` tags in the doc comments of one file. */
export function examplesInSource(root: string, file: string, pkg: DocPackage): DocExample[] {
  const text = readFileSync(file, 'utf8');
  const rel = path.relative(root, file);
  const out: DocExample[] = [];
  let owner = '';
  for (const m of text.matchAll(/\/\*\*([\s\S]*?)\*\//g)) {
    const start = lineAt(text, m.index);
    const lines = (m[1] as string).split('\n').map((l) => l.replace(/^\s*\*(?: |$)/, ''));
    const symbol = documentedSymbol(m[1] as string, text.slice(m.index + m[0].length));
    // Members are named after the class that holds them (the last class seen above them).
    if (!symbol.startsWith('.') && symbol !== 'module' && symbol !== '?') owner = symbol;
    const name = symbol.startsWith('.') ? `${owner}${symbol}` : symbol;
    let inExample = false;
    let fence: { lang: string; from: number; code: string[] } | null = null;
    lines.forEach((l, i) => {
      if (fence) {
        if (/^\s*```\s*$/.test(l)) {
          if (inExample && /^(ts|typescript)$/.test(fence.lang))
            out.push({ pkg, file: rel, line: start + fence.from, symbol: name, code: fence.code.join('\n') });
          fence = null;
        } else fence.code.push(l);
        return;
      }
      const open = /^\s*```\s*(\w*)/.exec(l);
      if (open) {
        fence = { lang: open[1] as string, from: i + 1, code: [] };
        return;
      }
      const tag = /^\s*@(\w+)/.exec(l);
      if (tag) inExample = tag[1] === 'example';
    });
  }
  return out;
}

/** Every `@example` block of packages/{tensor,autograd,nn}/src, in file order. */
export function extractDocExamples(root: string): DocExample[] {
  return DOC_PACKAGES.flatMap((pkg) =>
    sourceFiles(path.join(root, 'packages', pkg, 'src')).flatMap((f) => examplesInSource(root, f, pkg)),
  );
}

/**
 * The blocks of a markdown guide fenced as ```ts runnable, named by the heading above them; with
 * `{ every: true }`, every ```ts block (the README, whose blocks are all programs).
 */
export function extractMarkdownExamples(root: string, file: string, opts: { every?: boolean } = {}): DocExample[] {
  const lines = readFileSync(path.join(root, file), 'utf8').split('\n');
  const out: DocExample[] = [];
  let heading = file;
  let block: { from: number; code: string[]; runnable: boolean } | null = null;
  lines.forEach((l, i) => {
    if (block) {
      if (/^\s*```\s*$/.test(l)) {
        if (block.runnable)
          out.push({ pkg: 'docs', file, line: block.from, symbol: heading, code: block.code.join('\n') });
        block = null;
      } else block.code.push(l);
      return;
    }
    const open = /^\s*```\s*(\S*)\s*(.*)$/.exec(l);
    if (open) {
      block = {
        from: i + 2,
        code: [],
        runnable:
          /^(ts|typescript)$/.test(open[1] as string) &&
          (opts.every === true || /\brunnable\b/.test(open[2] as string)),
      };
      return;
    }
    const h = /^#+\s+(.*)$/.exec(l);
    if (h) heading = (h[1] as string).trim();
  });
  return out;
}

/** The compiler options of tsconfig.base.json, for checking rather than building. */
function compilerOptions(root: string): ts.CompilerOptions {
  const json = ts.readConfigFile(path.join(root, 'tsconfig.base.json'), (p) => ts.sys.readFile(p)).config as {
    compilerOptions: object;
  };
  const { options } = ts.convertCompilerOptionsFromJson(json.compilerOptions, root);
  return {
    ...options,
    noEmit: true,
    composite: false,
    declaration: false,
    declarationMap: false,
    sourceMap: false,
    incremental: false,
  };
}

function isTypeOnlyExport(sym: ts.Symbol): boolean {
  return (sym.declarations ?? []).some(
    (d) =>
      (ts.isExportSpecifier(d) && (d.isTypeOnly || d.parent.parent.isTypeOnly)) ||
      ts.isTypeOnlyImportOrExportDeclaration(d),
  );
}

function exportTable(checker: ts.TypeChecker, sf: ts.SourceFile): ExportTable {
  const table: ExportTable = { values: new Set(), types: new Set() };
  const moduleSymbol = checker.getSymbolAtLocation(sf);
  if (!moduleSymbol) return table;
  for (const sym of checker.getExportsOfModule(moduleSymbol)) {
    if (sym.name === 'default') continue;
    const target = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
    const isValue = (target.flags & ts.SymbolFlags.Value) !== 0 && !isTypeOnlyExport(sym);
    (isValue ? table.values : table.types).add(sym.name);
  }
  return table;
}

/** What each package and each source file of packages/{tensor,autograd,nn}/src exports. */
export function loadExports(root: string): Exports {
  const files = DOC_PACKAGES.flatMap((p) => sourceFiles(path.join(root, 'packages', p, 'src')));
  const program = ts.createProgram({ rootNames: files, options: compilerOptions(root) });
  const checker = program.getTypeChecker();
  const byFile = new Map<string, ExportTable>();
  for (const f of files) {
    const sf = program.getSourceFile(f);
    if (sf) byFile.set(f, exportTable(checker, sf));
  }
  const packages = new Map<string, ExportTable>();
  for (const p of DOC_PACKAGES) {
    const table = byFile.get(path.join(root, 'packages', p, 'src', 'index.ts'));
    if (table) packages.set(PACKAGE_NAME(p), table);
  }
  return { packages, files: byFile, program };
}

/** A block split into its own import lines (hoisted, with the names they bind) and the rest. */
function splitImports(code: string): { imports: string[]; names: Set<string>; body: string[] } {
  const lines = code.split('\n');
  const imports: string[] = [];
  const names = new Set<string>();
  const body: string[] = [];
  let current: string[] | null = null;
  for (const l of lines) {
    if (current === null && !/^import\s/.test(l)) {
      body.push(l);
      continue;
    }
    current = [...(current ?? []), l];
    body.push(''); // keep line numbers: the body's line k is the block's line k
    if (!/(\bfrom\s*['"][^'"]+['"]|^import\s+['"][^'"]+['"])\s*;?\s*$/.test(l)) continue;
    const statement = current.join('\n');
    imports.push(statement);
    current = null;
    const braces = /\{([^}]*)\}/.exec(statement);
    for (const part of braces ? (braces[1] as string).split(',') : []) {
      const local = part
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)
        .pop()
        ?.trim();
      if (local) names.add(local);
    }
    const head = /^import\s+(?:type\s+)?([\w$]+)?\s*,?\s*(?:\*\s+as\s+([\w$]+))?/.exec(statement);
    if (head?.[1] && head[1] !== 'type') names.add(head[1]);
    if (head?.[2]) names.add(head[2]);
  }
  return { imports, names, body };
}

/** An import specifier for `target` from a module at `from` (relative, with a .js extension, as NodeNext wants). */
function relativeSpecifier(from: string, target: string): string {
  const rel = path.relative(path.dirname(from), target).replace(/\\/g, '/').replace(/\.ts$/, '.js');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

/**
 * Writes `example` as a module at `outFile` whose default export runs it, and returns where its
 * body starts. The module reads top to bottom: a header naming the source, the imports, the block.
 * With `{ ownImportsOnly: true }` nothing is imported but what the block imports itself (a block
 * that must run as written, as a whole program).
 */
export function writeExampleModule(
  root: string,
  example: DocExample,
  exports: Exports,
  outFile: string,
  opts: { ownImportsOnly?: boolean } = {},
): ExampleModule {
  const { imports, names: own, body } = splitImports(example.code);
  const used = new Set(example.code.match(/[A-Za-z_$][\w$]*/g) ?? []);
  const taken = new Set(own);
  const sources: Array<{ from: string; table: ExportTable }> = [];
  const sourceFile = path.join(root, example.file);
  const fileTable = exports.files.get(sourceFile);
  const isIndex = example.pkg !== 'docs' && sourceFile === path.join(root, 'packages', example.pkg, 'src', 'index.ts');
  for (const p of opts.ownImportsOnly ? [] : PRECEDENCE[example.pkg]) {
    const table = exports.packages.get(PACKAGE_NAME(p));
    if (table) sources.push({ from: PACKAGE_NAME(p), table });
  }
  if (fileTable && !isIndex && !opts.ownImportsOnly)
    sources.push({ from: relativeSpecifier(outFile, sourceFile), table: fileTable });
  const prelude: string[] = [];
  for (const { from, table } of sources) {
    const values = [...table.values].filter((n) => used.has(n) && !taken.has(n)).sort();
    const types = [...table.types].filter((n) => used.has(n) && !taken.has(n)).sort();
    for (const n of [...values, ...types]) taken.add(n);
    if (values.length > 0) prelude.push(`import { ${values.join(', ')} } from '${from}';`);
    if (types.length > 0) prelude.push(`import type { ${types.join(', ')} } from '${from}';`);
  }
  const head = [
    `// Generated by test-support/doctest.ts from ${example.file}:${example.line} (${example.symbol}); rewritten on every run.`,
    ...imports,
    ...prelude,
    '',
    'export default async function example(): Promise<void> {',
  ];
  const source = `${[...head, ...body, '}', ''].join('\n')}`;
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(outFile, source);
  return { example, path: outFile, bodyLine: head.length + 1 };
}

/**
 * Type errors in the example modules, each as `file:line (symbol): message` pointing at the line
 * of the doc comment or guide it came from.
 */
export function typecheckExamples(root: string, modules: readonly ExampleModule[], exports: Exports): string[] {
  const program = ts.createProgram({
    rootNames: modules.map((m) => m.path),
    options: compilerOptions(root),
    oldProgram: exports.program,
  });
  const errors: string[] = [];
  for (const m of modules) {
    const sf = program.getSourceFile(m.path);
    if (!sf) {
      errors.push(`${m.example.file}:${m.example.line} (${m.example.symbol}): not compiled`);
      continue;
    }
    for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
      const genLine = d.start === undefined ? 0 : sf.getLineAndCharacterOfPosition(d.start).line + 1;
      const line = genLine >= m.bodyLine ? m.example.line + (genLine - m.bodyLine) : m.example.line;
      errors.push(
        `${m.example.file}:${line} (${m.example.symbol}): ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
      );
    }
  }
  return errors;
}

/** A link of a guide that no longer points where it says, and, where the target is found again, the fix. */
interface StaleLink {
  message: string;
  /** 0-based line of the guide, and the line's text with the line numbers corrected. */
  fix?: { line: number; text: string };
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Where a run of trimmed lines occurs in `src` (0-based starts). */
function occurrences(src: readonly string[], run: readonly string[]): number[] {
  const trimmed = src.map((l) => l.trim());
  const out: number[] = [];
  for (let i = 0; i + run.length <= trimmed.length; i++) if (run.every((r, k) => trimmed[i + k] === r)) out.push(i);
  return out;
}

/** The line text with the link's numbers (in `#L..` and in a `file.ts:a-b` link text) moved to start at `to` (1-based). */
function relink(text: string, link: RegExpMatchArray, to: number): string {
  const from = Number(link[3]);
  const last = Number(link[4] ?? link[3]);
  const end = to + (last - from);
  const span = (sep: string, pre: string) =>
    last === from ? `${pre}${to}` : `${pre}${to}${sep}${pre === '#L' ? 'L' : ''}${end}`;
  const label = (link[1] as string).replace(new RegExp(`:${from}(-${last})?$`), `:${span('-', '')}`);
  const target = `${link[2]}${span('-', '#L')}`;
  return text.replace(link[0], `[${label}](${target})`);
}

function staleLinks(root: string, file: string): StaleLink[] {
  const doc = path.join(root, file);
  const lines = readFileSync(doc, 'utf8').split('\n');
  const out: StaleLink[] = [];
  const cache = new Map<string, string[]>();
  const source = (target: string): string[] => {
    let src = cache.get(target);
    if (!src) {
      src = readFileSync(target, 'utf8').split('\n');
      cache.set(target, src);
    }
    return src;
  };
  for (let i = 0; i < lines.length; i++) {
    const links = [...(lines[i] as string).matchAll(/\[([^\]]*)\]\(([^)#\s]+\.ts)#L(\d+)(?:-L(\d+))?\)/g)];
    links.forEach((link, k) => {
      const [text, rel] = [link[1] as string, link[2] as string];
      const from = Number(link[3]);
      const to = Number(link[4] ?? link[3]);
      const range = `${rel}#L${from}${to !== from ? `-L${to}` : ''}`;
      const src = source(path.resolve(path.dirname(doc), rel));
      const actual = src.slice(from - 1, to).map((l) => l.trim());
      const where = `${file}:${i + 1}`;
      if (k === links.length - 1 && /^\s*```/.test(lines[i + 1] ?? '')) {
        const quoted: string[] = [];
        for (let j = i + 2; j < lines.length && !/^\s*```\s*$/.test(lines[j] as string); j++)
          quoted.push((lines[j] as string).trim());
        if (quoted.length === actual.length && quoted.every((q, n) => q === actual[n])) return;
        const found = occurrences(src, quoted);
        const now =
          found.length === 1
            ? ` (it is now at line ${found[0] + 1})`
            : found.length === 0
              ? ' (the quoted lines are no longer in the file)'
              : '';
        out.push({
          message: `${where}: the quote of ${range} does not match the source${now}`,
          ...(found.length === 1 ? { fix: { line: i, text: relink(lines[i] as string, link, found[0] + 1) } } : {}),
        });
        return;
      }
      const name = /^`(?:[\w$]+\.)*([\w$]+)(?:\(\))?`$/.exec(text)?.[1];
      if (!name) {
        out.push({
          message: `${where}: ${range} cannot be checked: quote the lines in a block right after the link, or make the link text an identifier in backticks`,
        });
        return;
      }
      if (actual.some((l) => new RegExp(`\\b${escapeRegExp(name)}\\b`).test(l))) return;
      const declaration = new RegExp(
        `^\\s*(export\\s+)?(declare\\s+)?(abstract\\s+)?(async\\s+)?(function|class|interface|const|let|type|private|protected|public|static)?\\s*${escapeRegExp(name)}\\b`,
      );
      const found = src.flatMap((l, n) => (declaration.test(l) ? [n] : []));
      out.push({
        message: `${where}: ${range} does not show \`${name}\`${found.length === 1 ? ` (declared at line ${found[0] + 1})` : ''}`,
        ...(found.length === 1 ? { fix: { line: i, text: relink(lines[i] as string, link, found[0] + 1) } } : {}),
      });
    });
  }
  return out;
}

/**
 * Links of a markdown guide into the source that no longer point where they say:
 * - a fenced block right after a line whose last link is `path/to/file.ts#L10` or `#L10-L12` must
 *   be exactly those lines (compared without leading and trailing whitespace);
 * - a link whose text is an identifier in backticks, as in [`sumParts`](../x/graph.ts#L162), must
 *   point at lines that contain that identifier;
 * - any other link to lines is reported, since nothing could tell when it goes stale.
 * `fixQuotes` repairs the line numbers of those whose target is found again.
 */
export function checkQuotes(root: string, file: string): string[] {
  return staleLinks(root, file).map((s) => s.message);
}

/**
 * Moves the line numbers of stale links (see `checkQuotes`) to where their quote or identifier
 * now is, when it is found exactly once, and returns what it could not fix.
 * Run as `node_modules/.bin/tsx --conditions=wgru-source test-support/doctest.ts fix docs/<guide>.md`.
 */
export function fixQuotes(root: string, file: string): string[] {
  const doc = path.join(root, file);
  let stale = staleLinks(root, file);
  // One link per line is fixed per pass (a fix moves the others' offsets in that line).
  for (let pass = 0; pass < 8 && stale.some((s) => s.fix); pass++) {
    const lines = readFileSync(doc, 'utf8').split('\n');
    const done = new Set<number>();
    for (const s of stale) {
      if (!s.fix || done.has(s.fix.line)) continue;
      lines[s.fix.line] = s.fix.text;
      done.add(s.fix.line);
    }
    writeFileSync(doc, lines.join('\n'));
    stale = staleLinks(root, file);
  }
  return stale.map((s) => s.message);
}

if (
  process.argv[2] === 'fix' &&
  process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(process.argv[1]).href
) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const left = process.argv.slice(3).flatMap((f) => fixQuotes(root, f));
  for (const m of left) process.stderr.write(`${m}\n`);
  process.exitCode = left.length > 0 ? 1 : 0;
}
