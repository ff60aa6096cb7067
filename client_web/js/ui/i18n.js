// Every string a person sees comes from a catalogue in /i18n/; switching language
// needs no reload. A key missing from a catalogue is shown as the key itself and
// reported on the console, so a test can catch it: there is no silent English fallback.

export const LANGUAGES = ['ar', 'en', 'es', 'fr', 'ru', 'zh'];
const NAMES = { ar: 'العربية', en: 'English', es: 'Español', fr: 'Français', ru: 'Русский', zh: '中文' };

let catalog = {};
let current = 'en';

export function pickLanguage(preferred = navigator.languages || [navigator.language]) {
  for (const tag of preferred) {
    const base = String(tag || '').toLowerCase().split('-')[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return 'en';
}

export function languageNames() {
  return LANGUAGES.map((code) => ({ code, name: NAMES[code] }));
}

export function currentLanguage() {
  return current;
}

export async function setLanguage(lang) {
  const response = await fetch(`/i18n/${lang}.json`, { credentials: 'omit', cache: 'no-store' });
  if (!response.ok) throw new Error(`catalogue ${lang} failed to load`);
  catalog = await response.json();
  current = lang;
  document.documentElement.lang = lang;
  document.documentElement.dir = lookup('meta.dir') === 'rtl' ? 'rtl' : 'ltr';
  applyTranslations(document);
}

function lookup(key) {
  return key.split('.').reduce((node, part) => (node && typeof node === 'object' ? node[part] : undefined), catalog);
}

export function has(key) {
  return typeof lookup(key) === 'string';
}

export function t(key, vars = {}) {
  const text = lookup(key);
  if (typeof text !== 'string') {
    console.error(`missing translation: ${current}:${key}`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

export function applyTranslations(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n);
  }
}
