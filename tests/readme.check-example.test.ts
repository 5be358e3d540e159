import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

// The README's "Test your campaign" example, taken from README.md as it is, type-checked and run
// against a campaign of the shape it assumes (tests/fixtures/readme-check/campaign.ts): the README
// cannot drift from the API without this failing.

const REPO = path.resolve(import.meta.dirname, '..');
const TESTING = path.join(REPO, 'testing', 'index.ts');
const CAMPAIGN = path.join(REPO, 'tests', 'fixtures', 'readme-check', 'campaign.ts');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-readme-example-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** The first ```ts block of the README section `heading`. */
function readmeBlock(heading: string): string {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(`\n${heading}\n`));
  const block = /```ts\n([\s\S]*?)```/.exec(section);
  if (!section.startsWith(`\n${heading}`) || block === null) throw new Error(`README.md has no \`\`\`ts block under "${heading}"`);
  return block[1]!;
}

/** The example with its two imports pointed at this checkout and the fixture campaign. */
function resolved(code: string, testing: string, campaign: string): string {
  const out = code.replace(`from 'matterstack/testing'`, `from ${JSON.stringify(testing)}`).replace(`from './campaign.ts'`, `from ${JSON.stringify(campaign)}`);
  expect(out, 'the example imports matterstack/testing and ./campaign.ts').not.toMatch(/matterstack\/testing|'\.\/campaign\.ts'/);
  return out;
}

const example = readmeBlock('### Test your campaign');

describe('the README "Test your campaign" example', () => {
  it('is about ten lines', () => {
    expect(example.trim().split('\n').length).toBeLessThanOrEqual(12);
  });

  it('type-checks (strict) with vitest as its runner', () => {
    // A virtual file beside this one: its imports resolve as the tests' do, and only it is checked.
    const file = path.join(REPO, 'tests', 'readme-example.virtual.ts');
    const source = `import { expect, it } from 'vitest';\n${resolved(example, '../testing/index.ts', './fixtures/readme-check/campaign.ts')}`;
    const options: ts.CompilerOptions = {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      allowImportingTsExtensions: true,
      skipLibCheck: true,
      types: ['node'],
    };
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, language, ...rest) => (path.resolve(name) === file ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, ...rest));
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (name) => path.resolve(name) === file || fileExists(name);
    const program = ts.createProgram([file], options, host);
    const diagnostics = [...program.getSyntacticDiagnostics(program.getSourceFile(file)), ...program.getSemanticDiagnostics(program.getSourceFile(file))];
    expect(diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  }, 120_000);

  it('runs: its check passes on a campaign that keeps the best score', async () => {
    const tests: { name: string; fn: () => Promise<void> }[] = [];
    const runner = { it: (name: string, fn: () => Promise<void>) => void tests.push({ name, fn }), expect };
    const file = path.join(scratch, 'example.ts');
    // The example's `it` and `expect` are the runner's: here they are handed over through a global.
    const header = `const { it, expect } = (globalThis as unknown as { readmeExample: { it: (name: string, fn: () => Promise<void>) => void; expect: (value: unknown, message?: string) => { toBe(expected: unknown): void } } }).readmeExample;\n`;
    fs.writeFileSync(file, header + resolved(example, pathToFileURL(TESTING).href, pathToFileURL(CAMPAIGN).href));
    Object.assign(globalThis, { readmeExample: runner });
    try {
      await import(pathToFileURL(file).href);
    } finally {
      delete (globalThis as { readmeExample?: unknown }).readmeExample;
    }
    expect(tests.map((test) => test.name)).toEqual(['the campaign survives any world']);
    await tests[0]!.fn();
  }, 120_000);
});
