// The page's words in both languages, and a message for exactly the error codes the API answers
// (api/src/error.rs is the source of truth). No browser or server needed:
//   cd tests/browser && node --test i18n.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiErrorCodes, importWebModule, webModules } from './web-source.mjs';

const { ERROR_MESSAGES, LABELS, LANGUAGES, STRINGS } = await importWebModule('i18n.js');
const codes = await apiErrorCodes();
const sorted = (keys) => [...keys].sort();
const placeholders = (text) => sorted(new Set([...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1])));

test('api/src/error.rs is read: its codes are the ones the API documents', () => {
  assert.ok(codes.length >= 20, `only ${codes.length} codes read: ${codes.join(', ')}`);
  for (const code of ['VALIDATION_FAILED', 'SEAT_UNAVAILABLE', 'TOKEN_EXPIRED', 'INTERNAL']) assert.ok(codes.includes(code), code);
  assert.equal(new Set(codes).size, codes.length, 'no code is listed twice');
});

test('every error code the API answers has a message in both languages, and no other code has one', () => {
  assert.deepEqual(sorted(LANGUAGES), ['en', 'ko']);
  for (const language of LANGUAGES) {
    const messages = ERROR_MESSAGES[language];
    const missing = codes.filter((code) => !(code in messages));
    const stale = Object.keys(messages).filter((code) => !codes.includes(code));
    assert.deepEqual(missing, [], `${language}: codes the API answers without a message`);
    assert.deepEqual(stale, [], `${language}: messages for codes the API no longer answers`);
    for (const code of codes) {
      assert.equal(typeof messages[code], 'string', `${language}.${code}`);
      assert.ok(messages[code].trim().length > 0, `${language}.${code} is empty`);
      assert.doesNotMatch(messages[code], /\{\w+\}/, `${language}.${code} has a placeholder nothing fills`);
    }
  }
});

test('the page only tests for error codes the API answers', async () => {
  const unknown = [];
  for (const { path, source } of await webModules()) {
    const compared = [...source.matchAll(/\berror\.code\s*[!=]==?\s*'([A-Z0-9_]+)'/g), ...source.matchAll(/\berrorMessage\('([A-Z0-9_]+)'\)/g)];
    for (const [, code] of compared) if (!codes.includes(code)) unknown.push(`${path}: ${code}`);
  }
  assert.deepEqual(unknown, []);
});

test('the page\'s words exist in both languages, with the same placeholders', () => {
  assert.deepEqual(sorted(Object.keys(STRINGS.ko)), sorted(Object.keys(STRINGS.en)));
  for (const key of Object.keys(STRINGS.ko)) {
    assert.deepEqual(placeholders(STRINGS.ko[key]), placeholders(STRINGS.en[key]), `placeholders of ${key}`);
  }
  assert.deepEqual(sorted(Object.keys(LABELS.ko)), sorted(Object.keys(LABELS.en)));
  for (const group of Object.keys(LABELS.ko)) {
    assert.deepEqual(sorted(Object.keys(LABELS.ko[group])), sorted(Object.keys(LABELS.en[group])), `labels of ${group}`);
  }
});
