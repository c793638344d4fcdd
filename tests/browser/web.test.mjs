// The page's source, checked without a browser: the one rendering helper escapes, nothing else
// builds HTML, the seat-status letters are read in one place, and the API embeds every file.
//   cd tests/browser && node --test web.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { ROOT, importWebModule, webFiles, webModules } from './web-source.mjs';

const { html, render, escapeHtml } = await importWebModule('html.js');
const modules = await webModules();

test('html`` escapes every interpolation, in text and in attributes', () => {
  const evil = `<img src=x onerror="alert('x')">&`;
  assert.equal(String(html`<p title="${evil}">${evil}</p>`),
    '<p title="&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;">&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;</p>');
  assert.equal(escapeHtml(`<>&"'`), '&lt;&gt;&amp;&quot;&#39;');
});

test('html`` keeps nested html`` and arrays of it as markup, and renders null and undefined as nothing', () => {
  const items = ['a<b', 'c'].map((x) => html`<li>${x}</li>`);
  assert.equal(String(html`<ul>${items}</ul>`), '<ul><li>a&lt;b</li><li>c</li></ul>');
  assert.equal(String(html`${null}${undefined}|${0}|${false}|${true}`), '|0|false|true');
  assert.equal(String(html`${['<a>', html`<b>`]}`), '&lt;a&gt;<b>', 'plain strings in an array are escaped');
});

test('html is only a template tag, and render() takes nothing but its markup', () => {
  assert.throws(() => html('<b>'), TypeError);
  assert.throws(() => html(['<b>']), TypeError);
  const element = { innerHTML: '' };
  assert.throws(() => render(element, '<b>x</b>'), TypeError);
  assert.throws(() => render(element, { text: '<b>x</b>' }), TypeError);
  render(element, html`<b>${'<i>'}</b>`);
  assert.equal(element.innerHTML, '<b>&lt;i&gt;</b>');
});

test('only html.js puts HTML into the page', async () => {
  const index = await readFile(join(ROOT, 'web/index.html'), 'utf8');
  const sinks = /\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write|createContextualFragment|setHTMLUnsafe|parseHTMLUnsafe|DOMParser/g;
  const found = [];
  for (const { path, source } of [...modules, { path: 'index.html', source: index }]) {
    for (const m of source.matchAll(sinks)) found.push(`${path}: ${m[0]}`);
  }
  assert.deepEqual(found, ['js/html.js: .innerHTML'], 'HTML sinks outside render() in html.js');
  assert.doesNotMatch(index, /<script(?![^>]*\bsrc=)[^>]*>/, 'index.html has no inline script');
});

test('the compact seat map\'s status letters (A, H, S) are read in one module', () => {
  const letterLiteral = /(['"`])[AHS]\1/;
  const holders = modules.filter(({ source }) => /STATUS_LETTERS\s*=/.test(source)).map((m) => m.path);
  assert.deepEqual(holders, ['js/seat-map-model.js']);
  const elsewhere = modules.filter(({ path, source }) => path !== 'js/seat-map-model.js' && letterLiteral.test(source)).map((m) => m.path);
  assert.deepEqual(elsewhere, [], 'a seat-status letter outside seat-map-model.js');
});

test('index.html starts the page with the module js/main.js', async () => {
  const index = await readFile(join(ROOT, 'web/index.html'), 'utf8');
  const scripts = [...index.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
  assert.deepEqual(scripts, ['<script type="module" src="/js/main.js">']);
});

test('every import resolves to a module of web/js', async () => {
  const files = new Set(await webFiles());
  const broken = [];
  for (const { path, source } of modules) {
    for (const [, specifier] of source.matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s*'([^']+)'/gm)) {
      const target = normalize(join(dirname(path), specifier)).split('\\').join('/');
      if (!specifier.startsWith('.') || !files.has(target)) broken.push(`${path}: ${specifier}`);
    }
  }
  assert.deepEqual(broken, []);
});

// The API embeds the page at compile time (api/src/routes/web.rs): a file it does not list is a 404.
test('api/src/routes/web.rs embeds every file of web/', async () => {
  const rust = await readFile(join(ROOT, 'api/src/routes/web.rs'), 'utf8');
  // listed as include_str!("../../../web/<path>") or web_file!("<path>", …)
  const listed = (path) => rust.includes(`"../../../web/${path}"`) || rust.includes(`web_file!("${path}"`);
  const files = (await webFiles()).filter((p) => !p.split('/').some((part) => part.startsWith('.')));
  assert.deepEqual(files.filter((p) => !listed(p)), [], 'files of web/ that web.rs does not serve');
});

test('no inline style attributes or scripts: the Content-Security-Policy allows neither', async () => {
  for (const { path, source } of modules) {
    assert.doesNotMatch(source, /\sstyle="/, `${path} has an inline style attribute`);
    assert.doesNotMatch(source, /\son[a-z]+="/, `${path} has an inline event handler`);
  }
  const index = await readFile(join(ROOT, 'web/index.html'), 'utf8');
  assert.doesNotMatch(index, /<script(?![^>]*\bsrc=)/, 'index.html has an inline script');
  assert.doesNotMatch(index, /\sstyle="/, 'index.html has an inline style attribute');
});
