/**
 * The console's build: the page (console/app/) bundled by esbuild into static files, written to a folder. The
 * console function serves that folder (functions/console/handler.ts): CDK runs this after bundling the function, so
 * the files ship inside its bundle; the local stack runs it before it starts.
 *
 * `npx tsx console/build.ts [--out DIR]` (default: functions/console/assets).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_ASSETS_DIR = resolve(here, '..', 'functions', 'console', 'assets');

/** The console's files, by name. */
export async function consoleFiles(): Promise<Map<string, string>> {
  const out = await build({
    entryPoints: [join(here, 'app', 'main.ts')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    write: false,
    outfile: 'console.js',
    legalComments: 'eof',
    logLevel: 'silent',
  });
  const files = new Map<string, string>();
  for (const f of out.outputFiles) files.set(f.path.split('/').pop()!, f.text);
  for (const name of ['index.html', 'console.css']) files.set(name, await readFile(join(here, 'app', name), 'utf8'));
  files.set(
    'uPlot.min.css',
    await readFile(join(here, '..', 'node_modules', 'uplot', 'dist', 'uPlot.min.css'), 'utf8'),
  );
  return files;
}

/** Writes the console's files to `dir`, each atomically (several local stacks may build at once). */
export async function buildConsole(dir = DEFAULT_ASSETS_DIR): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files = await consoleFiles();
  for (const [name, text] of files) {
    const tmp = join(dir, `.${name}.${process.pid}.${Math.random().toString(36).slice(2)}`);
    await writeFile(tmp, text);
    await rename(tmp, join(dir, name));
  }
  return [...files.keys()];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, help: { type: 'boolean' } } });
  if (values.help) {
    console.log('Usage: npx tsx console/build.ts [--out DIR]   (default: functions/console/assets)');
  } else {
    const names = await buildConsole(values.out ? resolve(values.out) : DEFAULT_ASSETS_DIR);
    console.log(`console built: ${names.join(', ')}`);
  }
}
