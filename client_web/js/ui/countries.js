// The country list: every code the schema accepts, named in the page's language by the
// browser (Intl.DisplayNames) and sorted in that language's order.

import { COUNTRIES } from '../report_schema.js';
import { t } from './i18n.js';

export function countryNames(lang) {
  let names;
  try {
    names = new Intl.DisplayNames([lang], { type: 'region', fallback: 'code' });
  } catch {
    names = null;
  }
  const collator = new Intl.Collator(lang);
  return COUNTRIES
    .map((code) => ({ code, name: (names && names.of(code)) || code }))
    .sort((a, b) => collator.compare(a.name, b.name) || (a.code < b.code ? -1 : 1));
}

// (Re)fills the <select>, keeping the choice. The first option means "not chosen yet".
export function renderCountries(select, lang) {
  const chosen = select.value;
  const empty = new Option(t('where.country_choose'), '');
  select.replaceChildren(empty, ...countryNames(lang).map(({ code, name }) => new Option(name, code)));
  select.value = chosen;
}
