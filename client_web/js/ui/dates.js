// A date as precise as the person wants: a year, then optionally a month, then a day
// ("YYYY", "YYYY-MM", "YYYY-MM-DD"). Month names come from the browser in the page's language.

import { t } from './i18n.js';

const EASTERN_DIGITS = /[\u0660-\u0669\u06f0-\u06f9\uff10-\uff19]/g;

function westernDigits(text) {
  return text.replace(EASTERN_DIGITS, (c) => {
    const code = c.charCodeAt(0);
    const zero = code >= 0xff10 ? 0xff10 : code >= 0x06f0 ? 0x06f0 : 0x0660;
    return String(code - zero);
  });
}

function parts(fieldset) {
  return {
    year: fieldset.querySelector('input.year'),
    month: fieldset.querySelector('select.month'),
    day: fieldset.querySelector('select.day'),
  };
}

export function renderDateParts(fieldset, lang) {
  const { month, day } = parts(fieldset);
  const keepMonth = month.value;
  const keepDay = day.value;
  let format;
  try {
    format = new Intl.DateTimeFormat(lang, { month: 'long', timeZone: 'UTC' });
  } catch {
    format = new Intl.DateTimeFormat('en', { month: 'long', timeZone: 'UTC' });
  }
  const months = Array.from({ length: 12 }, (_, i) => {
    const value = String(i + 1).padStart(2, '0');
    return new Option(format.format(new Date(Date.UTC(2001, i, 1))), value);
  });
  month.replaceChildren(new Option(t('date.not_given'), ''), ...months);
  const days = Array.from({ length: 31 }, (_, i) => {
    const value = String(i + 1).padStart(2, '0');
    return new Option(String(i + 1), value);
  });
  day.replaceChildren(new Option(t('date.not_given'), ''), ...days);
  month.value = keepMonth;
  day.value = keepDay;
}

function realDay(year, month, day) {
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

// Returns {value} ("" when nothing is given) or {error: catalogue key}. `full` demands a
// whole date (the coming risky date); otherwise a year alone or a year and month will do.
export function readDateParts(fieldset, { full = false } = {}) {
  const { year, month, day } = parts(fieldset);
  const y = westernDigits(year.value.trim());
  const m = month.value;
  const d = day.value;
  if (!y && !m && !d) return { value: '' };
  if (!/^[0-9]{4}$/.test(y)) return { error: 'date.error_year' };
  const yearNumber = Number(y);
  if (yearNumber < 1945) return { error: 'date.error_year' };
  if (full && (!m || !d)) return { error: 'date.error_full' };
  if (d && !m) return { error: 'date.error_month' };
  if (!m) return { value: y };
  if (!d) return { value: `${y}-${m}` };
  if (!realDay(yearNumber, Number(m), Number(d))) return { error: 'date.error_day' };
  return { value: `${y}-${m}-${d}` };
}

export function clearDateParts(fieldset) {
  const { year, month, day } = parts(fieldset);
  year.value = '';
  month.value = '';
  day.value = '';
}
