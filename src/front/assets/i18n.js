// The console pages' language: ?lang= when given, else the browser's languages (which follow
// its Accept-Language), else English; and their words, from messages.js.
import catalogues from './messages.js';

// Keys the chosen catalogue lacks (their English is shown instead): the tests fail on any.
window.vncgateMissing = [];

function chooseLanguage() {
  const forced = new URLSearchParams(window.location.search).get('lang');
  const wanted = [forced, ...(navigator.languages || [navigator.language])].filter(Boolean);
  for (const tag of wanted) {
    const primary = tag.toLowerCase().split('-')[0];
    if (Object.hasOwn(catalogues, primary)) return primary;
  }
  return null;
}

// The operator's `lang` (console_defaults): a mandatory one always, a default one when the
// person asked for no language the page has. Whether the language changed.
export function operatorLanguage(defaults) {
  const forced = defaults.mandatory && defaults.mandatory.lang;
  const chosen = forced || (asked ? null : defaults.lang);
  if (!chosen || !Object.hasOwn(catalogues, chosen) || chosen === language) return false;
  language = chosen;
  words = catalogues[chosen];
  return true;
}

// The language asked for, by ?lang= or the browser's languages (null when none has a
// catalogue), and the one in use.
const asked = chooseLanguage();
export let language = asked || 'en';
let words = catalogues[language];

// The words of `key`, with {name} filled from `vars`.
export function t(key, vars = {}) {
  let text = words[key];
  if (text === undefined) {
    window.vncgateMissing.push(key);
    text = catalogues.en[key] ?? key;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) => (Object.hasOwn(vars, name) ? String(vars[name]) : whole));
}

// A reason the proxy sent (in English, the words of one of the catalogue's reason keys) in this
// page's language; what follows a known reason after ": " (an administrator's own words) stays.
export function reason(text) {
  const known = Object.entries(catalogues.en).filter(([key]) => key.startsWith('reason.') || key.startsWith('why.'));
  const exact = known.find(([, english]) => english === text);
  if (exact) return t(exact[0]);
  const prefix = known.find(([, english]) => text.startsWith(`${english}: `));
  if (prefix) return `${t(prefix[0])}: ${text.slice(prefix[1].length + 2)}`;
  return text;
}

// Puts the words on the page: data-i18n="key" for an element's text, data-i18n-attr="attr:key;…"
// for its attributes (titles, accessible names).
export function translatePage() {
  document.documentElement.lang = language === 'zh' ? 'zh-Hans' : language;
  for (const element of document.querySelectorAll('[data-i18n]')) element.textContent = t(element.dataset.i18n);
  for (const element of document.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of element.dataset.i18nAttr.split(';')) {
      const [attribute, key] = pair.split(':');
      element.setAttribute(attribute, t(key));
    }
  }
}
