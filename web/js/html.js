// The one way this page builds HTML.
//
//   html`<p class="x">${text}</p>`   escapes every interpolated value (text and attributes alike);
//                                    another html`...` result, or an array of them, is kept as markup.
//   render(element, markup)          puts html`...` markup into an element; it refuses anything else.
//
// There is no way to mark a plain string as markup: the only markup is what html`...` produced,
// so a value from the server or the user can never become tags. Attribute values must be quoted.

class Markup {
  constructor(text) { this.text = text; Object.freeze(this); }
  toString() { return this.text; }
}

const ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (value) => String(value).replace(/[&<>"']/g, (c) => ENTITIES[c]);

// null and undefined render as nothing; numbers and booleans as their text ("false" too).
function piece(value) {
  if (value instanceof Markup) return value.text;
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map(piece).join('');
  return escapeHtml(value);
}

export function html(strings, ...values) {
  if (!Array.isArray(strings) || !Array.isArray(strings.raw)) throw new TypeError('html is a template tag: html`...`');
  let text = strings[0];
  for (let i = 0; i < values.length; i++) text += piece(values[i]) + strings[i + 1];
  return new Markup(text);
}

export function render(element, markup) {
  if (!(markup instanceof Markup)) throw new TypeError('render() takes html`...` markup');
  element.innerHTML = markup.text;
}
