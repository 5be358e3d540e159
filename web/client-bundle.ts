import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ENTRY = fileURLToPath(new URL('./client/main.ts', import.meta.url));

let bundle: Promise<string> | undefined;

/** The page's script: web/client bundled by esbuild (Preact, htm, dagre included; nothing from a CDN), built once per process. */
export function clientBundle(): Promise<string> {
  bundle ??= build({ entryPoints: [ENTRY], bundle: true, write: false, format: 'esm', minify: true, target: 'es2020', legalComments: 'none' }).then(
    (result) => result.outputFiles[0]?.text ?? '',
  );
  return bundle;
}
