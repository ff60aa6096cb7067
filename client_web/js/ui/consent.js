// The consent questions (docs/PROTOCOL.md, "Report schema", consent): each a separate,
// explicit choice with a one-line explanation, none answered in advance. The same block is
// used in the report (the reporter's and, for an intermediary, the victim's) and in the
// case view, where only the questions answered are sent as a change.

import { REFERRAL_KINDS, SG_REPORT, STATE_ACTIONS, YES_NO } from '../report_schema.js';
import { clearChoice, fillChoices, singleValue } from './choices.js';
import { t } from './i18n.js';

const QUESTIONS = [
  ['use_information', YES_NO],
  ['use_name', YES_NO],
  ['use_media', YES_NO],
  ['state_action', STATE_ACTIONS],
  ['sg_report', SG_REPORT],
];

function answerKey(field, value) {
  return YES_NO.includes(value) && field !== 'state_action' && field !== 'sg_report'
    ? `consent.answer.${value}`
    : `consent.${field}.${value}`;
}

function translated(tag, key, className) {
  const el = document.createElement(tag);
  el.dataset.i18n = key;
  el.textContent = t(key);
  if (className) el.className = className;
  return el;
}

function question(id, legendKey, helpKey, values, keyOf) {
  const fieldset = document.createElement('fieldset');
  fieldset.className = 'question single consent-question';
  fieldset.id = id;
  fieldset.append(translated('legend', legendKey));
  if (helpKey) {
    const help = translated('p', helpKey, 'hint');
    help.id = `${id}-help`;
    fieldset.setAttribute('aria-describedby', help.id);
    fieldset.append(help);
  }
  fillChoices(fieldset, values, keyOf, { single: true });
  return fieldset;
}

// Fills `container` with the questions; ids start with `prefix` (e.g. "rc" for the report's
// own consent), so `#rc-use_name-yes` is the "yes" to the use of names.
export function buildConsent(container, prefix) {
  container.dataset.prefix = prefix;
  const nodes = QUESTIONS.map(([field, values]) => {
    const fieldset = question(`${prefix}-${field}`, `consent.${field}.question`, `consent.${field}.help`, values,
      (value) => answerKey(field, value));
    fieldset.dataset.field = field;
    return fieldset;
  });
  const referral = document.createElement('fieldset');
  referral.className = 'referral';
  referral.id = `${prefix}-referral`;
  referral.append(translated('legend', 'consent.referral.question'));
  const help = translated('p', 'consent.referral.help', 'hint');
  help.id = `${prefix}-referral-help`;
  referral.setAttribute('aria-describedby', help.id);
  referral.append(help);
  for (const kind of REFERRAL_KINDS) {
    const fieldset = question(`${prefix}-referral-${kind}`, `consent.referral.${kind}`, null, YES_NO,
      (value) => `consent.answer.${value}`);
    fieldset.classList.add('compact');
    fieldset.dataset.referral = kind;
    referral.append(fieldset);
  }
  container.replaceChildren(...nodes, referral);
}

// Only the questions answered: {} when none is.
export function readConsent(container) {
  const out = {};
  for (const fieldset of container.querySelectorAll('fieldset[data-field]')) {
    const value = singleValue(fieldset);
    if (value !== undefined) out[fieldset.dataset.field] = value;
  }
  const referral = {};
  for (const fieldset of container.querySelectorAll('fieldset[data-referral]')) {
    const value = singleValue(fieldset);
    if (value !== undefined) referral[fieldset.dataset.referral] = value;
  }
  if (Object.keys(referral).length) out.referral = referral;
  return out;
}

export function clearConsent(container) {
  for (const fieldset of container.querySelectorAll('fieldset.question')) clearChoice(fieldset);
}
