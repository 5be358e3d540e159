import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readResultsFile } from '../operators/read-results-file.ts';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-results-file-'));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));
let dirs = 0;

/** A fresh attempt folder where `make` leaves its results.json. */
function attempt(make: (file: string, dir: string) => void): string {
  dirs += 1;
  const dir = path.join(base, `a${dirs}`);
  fs.mkdirSync(dir);
  make(path.join(dir, 'results.json'), dir);
  return dir;
}

const read = (dir: string, max = 1000): Promise<unknown> => readResultsFile(dir, 'results.json', max);

describe('readResultsFile: a JSON object in a regular file of the attempt folder, within the limit', () => {
  it('takes an object, also through a link that stays inside; none is undefined', async () => {
    expect(await read(attempt((file) => fs.writeFileSync(file, '{"a": [1, 2]}')))).toEqual({ a: [1, 2] });
    const linked = attempt((file, dir) => {
      fs.mkdirSync(path.join(dir, 'out'));
      fs.writeFileSync(path.join(dir, 'out', 'r.json'), '{"b": true}');
      fs.symlinkSync('out/r.json', file);
    });
    expect(await read(linked)).toEqual({ b: true });
    expect(await read(attempt(() => undefined))).toBeUndefined();
  });

  it.each<[string, (file: string, dir: string) => void, RegExp]>([
    ['a directory', (file) => fs.mkdirSync(file), /is not a regular file \(a directory\)/],
    ['a FIFO', (file) => execFileSync('mkfifo', [file]), /is not a regular file \(a FIFO\)/],
    ['a dangling link', (file) => fs.symlinkSync('nowhere.json', file), /symbolic link that leads nowhere/],
    ['a link to a sibling attempt', (file, dir) => { fs.writeFileSync(`${dir}-other.json`, '{}'); fs.symlinkSync(`${dir}-other.json`, file); }, /leading out of the attempt folder/],
    ['over the limit', (file) => fs.writeFileSync(file, `{"pad": "${'x'.repeat(2000)}"}`), /is 2011 bytes, over the limit of 1000 bytes \(defaults\.max_results_bytes/],
    ['over the limit once re-serialised', (file) => fs.writeFileSync(file, `{"n": [${Array(100).fill('9e20').join(',')}]}`), /takes \d+ bytes once re-serialised, over the limit of 1000/],
    ['null', (file) => fs.writeFileSync(file, 'null'), /must hold a JSON object, not null/],
    ['a string', (file) => fs.writeFileSync(file, '"hi"'), /must hold a JSON object, not a string/],
    ['nested 300 deep', (file) => fs.writeFileSync(file, `{"a": ${'['.repeat(300)}${']'.repeat(300)}}`), /nested more than 200 levels deep/],
  ])('refuses %s with RESULTS_INVALID naming the file', async (_name, make, message) => {
    const error = await read(attempt(make)).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ code: 'RESULTS_INVALID', details: { file: 'results.json' } });
    expect((error as Error).message).toMatch(/^results\.json /);
    expect((error as Error).message).toMatch(message);
  });
});
