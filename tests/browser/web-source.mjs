// Helpers of the tests that read the page's source (no browser, no server): its files, its
// modules imported into node, and the error codes the API answers.
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const WEB = join(ROOT, 'web');

/** Every file under web/, as paths relative to web/ ('js/main.js'). */
export async function webFiles() {
  const entries = await readdir(WEB, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(WEB, join(e.parentPath ?? e.path, e.name)).split('\\').join('/')).sort();
}

/** The page's JavaScript modules: [{ path: 'js/main.js', source }]. */
export async function webModules() {
  const paths = (await webFiles()).filter((p) => p.startsWith('js/') && p.endsWith('.js'));
  return Promise.all(paths.map(async (path) => ({ path, source: await readFile(join(WEB, path), 'utf8') })));
}

/**
 * Imports a module of web/js (`'i18n.js'`) into node. The page's modules are plain `.js` files with
 * no package.json of their own, so they are copied next to one that says they are ES modules.
 */
export async function importWebModule(name) {
  const dir = await mkdtemp(join(tmpdir(), 'seatline-web-'));
  try {
    await cp(join(WEB, 'js'), dir, { recursive: true });
    await writeFile(join(dir, 'package.json'), '{"type": "module"}');
    return await import(pathToFileURL(join(dir, name)).href);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The error codes the API answers: the second element of each arm of `fn parts` in
 * api/src/error.rs (`Variant => (StatusCode::X, "CODE", details)`). Throws when an arm does not
 * have that shape, so a code can never be missed silently.
 */
export async function apiErrorCodes() {
  const source = await readFile(join(ROOT, 'api/src/error.rs'), 'utf8');
  const start = source.indexOf('fn parts(');
  if (start < 0) throw new Error('api/src/error.rs has no `fn parts`');
  // the function's body: from its first `{` to the matching `}`
  const open = source.indexOf('{', start);
  let depth = 0, end = open;
  for (; end < source.length; end++) {
    if (source[end] === '{') depth++;
    else if (source[end] === '}' && --depth === 0) break;
  }
  const body = source.slice(open, end + 1);
  const arms = body.match(/=>/g) || [];
  const codes = [...body.matchAll(/=>\s*\(\s*StatusCode::\w+\s*,\s*"([A-Z][A-Z0-9_]*)"/g)].map((m) => m[1]);
  if (codes.length === 0 || codes.length !== arms.length) {
    throw new Error(`fn parts has ${arms.length} arms but ${codes.length} read as (StatusCode::X, "CODE", …); update apiErrorCodes()`);
  }
  return codes;
}
