// Single- and multiple-choice questions built from the schema's value lists. No control has
// a `name` (a native submission could then carry nothing into a URL), so a single choice is
// a set of radio buttons kept exclusive here, with a button to take the answer back.

import { t } from './i18n.js';

// Adds one option per value to `fieldset` (after its legend and hints). `labelKey(value)` is
// the catalogue key; the label is a data-i18n span, so a language switch relabels it.
export function fillChoices(fieldset, values, labelKey, { single = fieldset.classList.contains('single') } = {}) {
  const list = document.createElement('div');
  list.className = 'options';
  // Without a shared `name` the browser sees each radio as a group of one; say what the
  // group is, so a screen reader announces "2 of 3".
  if (single) list.setAttribute('role', 'radiogroup');
  for (const [index, value] of values.entries()) {
    const id = `${fieldset.id}-${value}`;
    const input = document.createElement('input');
    input.type = single ? 'radio' : 'checkbox';
    input.id = id;
    input.value = value;
    if (single) {
      input.setAttribute('aria-posinset', String(index + 1));
      input.setAttribute('aria-setsize', String(values.length));
    }
    const label = document.createElement('label');
    label.className = 'option';
    label.htmlFor = id;
    const text = document.createElement('span');
    text.dataset.i18n = labelKey(value);
    text.textContent = t(labelKey(value));
    label.append(input, text);
    list.append(label);
  }
  fieldset.append(list);
  if (single) {
    const clear = document.createElement('button');
    clear.type = 'button';
    clear.className = 'clear-choice';
    clear.hidden = true;
    const text = document.createElement('span');
    text.dataset.i18n = 'app.clear';
    text.textContent = t('app.clear');
    clear.append(text);
    fieldset.append(clear);
  }
}

function ownInputs(fieldset) {
  return [...fieldset.querySelectorAll('input')].filter((input) => input.closest('fieldset.question') === fieldset);
}

export function singleValue(fieldset) {
  const checked = ownInputs(fieldset).find((input) => input.checked);
  return checked ? checked.value : undefined;
}

export function multiValues(fieldset) {
  return ownInputs(fieldset).filter((input) => input.checked).map((input) => input.value);
}

export function clearChoice(fieldset) {
  for (const input of ownInputs(fieldset)) input.checked = false;
  const clear = fieldset.querySelector(':scope > .clear-choice');
  if (clear) clear.hidden = true;
}

// One listener for the whole page: a radio chosen unchecks the others of its question.
export function bindSingleChoices(root) {
  root.addEventListener('change', (event) => {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || input.type !== 'radio') return;
    const fieldset = input.closest('fieldset.question.single');
    if (!fieldset) return;
    for (const other of ownInputs(fieldset)) if (other !== input) other.checked = false;
    const clear = fieldset.querySelector(':scope > .clear-choice');
    if (clear) clear.hidden = !input.checked;
    fieldset.dispatchEvent(new CustomEvent('choice', { bubbles: true }));
  });
  // Arrow keys move between a question's radios and choose, as in a native radio group
  // (which a radio without `name` does not get); left and right follow the writing direction.
  root.addEventListener('keydown', (event) => {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || input.type !== 'radio') return;
    const fieldset = input.closest('fieldset.question.single');
    if (!fieldset) return;
    const rtl = getComputedStyle(input).direction === 'rtl';
    const steps = { ArrowDown: 1, ArrowUp: -1, ArrowRight: rtl ? -1 : 1, ArrowLeft: rtl ? 1 : -1 };
    if (!(event.key in steps)) return;
    event.preventDefault();
    const radios = ownInputs(fieldset);
    const next = radios[(radios.indexOf(input) + steps[event.key] + radios.length) % radios.length];
    next.focus();
    next.checked = true;
    next.dispatchEvent(new Event('change', { bubbles: true }));
  });
  root.addEventListener('click', (event) => {
    const clear = event.target instanceof Element ? event.target.closest('.clear-choice') : null;
    if (!clear) return;
    const fieldset = clear.closest('fieldset.question.single');
    clearChoice(fieldset);
    const first = ownInputs(fieldset)[0];
    if (first) first.focus();
    fieldset.dispatchEvent(new CustomEvent('choice', { bubbles: true }));
  });
}
