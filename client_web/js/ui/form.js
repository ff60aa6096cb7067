// The structured report form (docs/PROTOCOL.md, "Report schema"): builds the choices from the
// schema's value lists, checks each step as the person leaves it, and maps the answers to
// exactly the schema's fields. Only what is answered goes in: empty text and empty lists are
// left out, and only the country is required.

import * as schema from '../report_schema.js';
import { fillChoices, multiValues, singleValue, clearChoice } from './choices.js';
import { buildConsent, clearConsent, readConsent } from './consent.js';
import { renderCountries } from './countries.js';
import { clearDateParts, readDateParts, renderDateParts } from './dates.js';
import { t } from './i18n.js';

const $ = (id) => document.getElementById(id);
const LISTS = {
  ENGAGEMENTS: schema.ENGAGEMENTS,
  UN_BODIES: schema.UN_BODIES,
  TIMINGS: schema.TIMINGS,
  REPRISAL_TYPES: schema.REPRISAL_TYPES,
  PERPETRATORS: schema.PERPETRATORS,
  REPORTER_ROLES: schema.REPORTER_ROLES,
  URGENCIES: schema.URGENCIES,
  GROUPS: schema.GROUPS,
  REMEDIES: schema.REMEDIES,
};
// Free text: single-line fields are trimmed, an account is kept exactly as written.
const LINES = ['place', 'reporter_name', 'organisation', 'gender'];
const TEXTS = ['un_body_detail', 'perpetrator_detail', 'urgency_detail', 'remedies_outcome'];
const MULTI = ['un_bodies', 'timing', 'reprisal_types', 'perpetrators', 'urgency', 'groups'];
const SINGLE = ['engagement', 'reporter_role', 'remedies'];
// Which step asks for which field, to send the person back to it if a check fails.
const STEP_OF = {
  country: 'where', place: 'where', date: 'where',
  engagement: 'un', un_bodies: 'un', un_body_detail: 'un', timing: 'un',
  reprisal_types: 'what', perpetrators: 'what', perpetrator_detail: 'what', text: 'what',
  urgency: 'urgency', upcoming_date: 'urgency', urgency_detail: 'urgency',
  reporter_role: 'who', reporter_name: 'who', organisation: 'who', affected: 'who',
  gender: 'more', groups: 'more', remedies: 'more', remedies_outcome: 'more',
  consent: 'consent', victim_consent: 'victim',
};

let lang = 'en';
let personCount = 0;

export function stepOfPath(path) {
  return STEP_OF[String(path || '').split('.')[0]] || 'where';
}

export function buildReportForm(language) {
  lang = language;
  for (const fieldset of document.querySelectorAll('#report-form fieldset[data-choices]')) {
    const prefix = fieldset.dataset.labels;
    fillChoices(fieldset, LISTS[fieldset.dataset.choices], (value) => `${prefix}.${value}`);
  }
  buildConsent($('report-consent'), 'rc');
  buildConsent($('report-victim-consent'), 'rv');
  $('add-person').addEventListener('click', () => {
    const row = addPerson();
    row.querySelector('select').focus();
  });
  $('urgency').addEventListener('change', () => {
    $('upcoming').hidden = !multiValues($('urgency')).includes('upcoming_date');
  });
  // A problem shown on a field goes away as soon as the person changes that field.
  $('country').addEventListener('change', () => clearFieldError('country-error', $('country')));
  $('date').addEventListener('change', () => clearFieldError('date-error', $('date-year')));
  $('upcoming').addEventListener('change', () => clearFieldError('upcoming-error', $('upcoming-year')));
  addPerson();
  relabelReportForm(language);
}

function clearFieldError(errorId, control) {
  $(errorId).hidden = true;
  $(errorId).textContent = ''; // a field's description must not keep a fixed problem's words
  delete $(errorId).dataset.key;
  control.removeAttribute('aria-invalid');
}

export function relabelReportForm(language) {
  lang = language;
  renderCountries($('country'), lang);
  renderDateParts($('date'), lang);
  renderDateParts($('upcoming'), lang);
  relabelPeople();
}

function relabelPeople() {
  const rows = [...$('affected').children];
  rows.forEach((row, i) => {
    row.querySelector('legend').textContent = t('who.person', { n: i + 1 });
    row.querySelector('.remove-person').hidden = rows.length === 1;
  });
  $('add-person').disabled = rows.length >= schema.MAX_AFFECTED;
}

function labelled(id, key, control) {
  const label = document.createElement('label');
  label.htmlFor = id;
  label.dataset.i18n = key;
  label.textContent = t(key);
  control.id = id;
  control.autocomplete = 'off';
  control.spellcheck = false; // a browser's online spell check would send the words away
  return [label, control];
}

function addPerson() {
  personCount += 1;
  const id = `person-${personCount}`;
  const row = document.createElement('li');
  row.className = 'person';
  row.id = id;
  const fieldset = document.createElement('fieldset');
  const legend = document.createElement('legend');
  const relation = document.createElement('select');
  relation.className = 'relation';
  const none = new Option(t('who.relation_choose'), '');
  none.dataset.i18n = 'who.relation_choose';
  relation.append(none, ...schema.RELATIONS.map((value) => {
    const option = new Option(t(`who.relation.${value}`), value);
    option.dataset.i18n = `who.relation.${value}`;
    return option;
  }));
  const name = document.createElement('input');
  name.className = 'person-name';
  name.maxLength = 200;
  const detail = document.createElement('textarea');
  detail.className = 'person-detail';
  detail.rows = 2;
  detail.maxLength = 1000;
  const remove = document.createElement('button');
  remove.type = 'button';
  remove.className = 'remove-person';
  remove.dataset.i18n = 'who.remove_person';
  remove.textContent = t('who.remove_person');
  remove.addEventListener('click', () => {
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    relabelPeople();
    if (next) next.querySelector('select').focus();
  });
  fieldset.append(
    legend,
    ...labelled(`${id}-relation`, 'who.relation_q', relation),
    ...labelled(`${id}-name`, 'who.person_name', name),
    ...labelled(`${id}-detail`, 'who.person_detail', detail),
    remove,
  );
  row.append(fieldset);
  $('affected').append(row);
  relabelPeople();
  return row;
}

function readPeople() {
  const people = [];
  for (const row of $('affected').children) {
    const relation = row.querySelector('.relation').value;
    const name = row.querySelector('.person-name').value.trim();
    const detail = row.querySelector('.person-detail').value;
    if (!relation && !name && !detail.trim()) continue; // an empty entry is no entry
    const person = { relation };
    if (name) person.name = name;
    if (detail.trim()) person.detail = detail;
    people.push({ person, row });
  }
  return people;
}

export function isIntermediary() {
  return singleValue($('reporter_role')) === 'intermediary';
}

function fieldError(errorId, control, key) {
  const error = $(errorId);
  error.textContent = t(key);
  error.dataset.key = key;
  error.hidden = false;
  if (control) {
    control.setAttribute('aria-invalid', 'true');
    // The invalid field itself points at the words that explain it (a screen reader reads them on focus).
    const described = (control.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
    if (!described.includes(errorId)) control.setAttribute('aria-describedby', [...described, errorId].join(' '));
    control.focus();
  }
  return false;
}

function clearErrors(step) {
  for (const error of step.querySelectorAll('.field-error')) {
    error.hidden = true;
    error.textContent = '';
    delete error.dataset.key;
  }
  for (const control of step.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
}

// Checks what the person gave on one step; shows what to fix and returns false, or true.
export function validateStep(name) {
  const step = document.querySelector(`section.step[data-step="${name}"]`);
  clearErrors(step);
  if (name === 'where') {
    if (!$('country').value) return fieldError('country-error', $('country'), 'report.country_required');
    const date = readDateParts($('date'));
    if (date.error) return fieldError('date-error', $('date-year'), date.error);
  }
  if (name === 'urgency' && !$('upcoming').hidden) {
    const date = readDateParts($('upcoming'), { full: true });
    if (date.error) return fieldError('upcoming-error', $('upcoming-year'), date.error);
  }
  if (name === 'who') {
    const missing = readPeople().find(({ person }) => !person.relation);
    if (missing) return fieldError('affected-error', missing.row.querySelector('.relation'), 'who.error_relation');
  }
  return true;
}

// The report object, exactly the schema's fields and values; only what is answered.
export function collectReport() {
  const report = { schema: schema.SCHEMA, country: $('country').value };
  for (const id of LINES) {
    const value = $(id).value.trim();
    if (value) report[id] = value;
  }
  const date = readDateParts($('date'));
  if (date.value) report.date = date.value;
  for (const id of SINGLE) {
    const value = singleValue($(id));
    if (value !== undefined) report[id] = value;
  }
  for (const id of MULTI) {
    const values = multiValues($(id));
    if (values.length) report[id] = values;
  }
  for (const id of TEXTS) {
    const value = $(id).value;
    if (value.trim()) report[id] = value;
  }
  if (report.urgency && report.urgency.includes('upcoming_date')) {
    const upcoming = readDateParts($('upcoming'), { full: true });
    if (upcoming.value) report.upcoming_date = upcoming.value;
  }
  const people = readPeople().map(({ person }) => person);
  if (people.length) report.affected = people;
  if ($('account').value.trim()) report.text = $('account').value;
  const consent = readConsent($('report-consent'));
  if (Object.keys(consent).length) report.consent = consent;
  if (report.reporter_role === 'intermediary') {
    const victim = readConsent($('report-victim-consent'));
    if (Object.keys(victim).length) report.victim_consent = victim;
  }
  return report;
}

export function resetReportForm() {
  const form = $('report-form');
  form.reset();
  for (const fieldset of form.querySelectorAll('fieldset.question.single')) clearChoice(fieldset);
  clearConsent($('report-consent'));
  clearConsent($('report-victim-consent'));
  clearDateParts($('date'));
  clearDateParts($('upcoming'));
  $('upcoming').hidden = true;
  $('affected').replaceChildren();
  addPerson();
  for (const step of form.querySelectorAll('section.step')) clearErrors(step);
}
