// Wires the views together. All state lives in this module's memory: nothing goes to
// cookies, storage, the URL or history, and closing the tab forgets everything.

import { LANGUAGES, applyTranslations, currentLanguage, languageNames, pickLanguage, setLanguage, t, has } from './ui/i18n.js';
import { submitReport } from './ui/report.js';
import { openCase, sendFollowup } from './ui/casefile.js';
import { loadTrust } from './ui/trust.js';
import { loadSodium } from './sodium.js';
import { CHUNK_PLAINTEXT } from './attachment.js';

const MAX_FILE_BYTES = 4096 * CHUNK_PLAINTEXT;
const $ = (id) => document.getElementById(id);
const VIEWS = ['home', 'report', 'progress', 'key', 'return', 'case'];
let session = null; // the open case: derived keys, in memory only

function show(view) {
  for (const name of VIEWS) $(`view-${name}`).hidden = name !== view;
  $('loading').hidden = true;
  hideError();
  $('main').focus();
}

function errorText(error) {
  const code = (error && error.code) || 'generic';
  if (code !== 'generic' && !has(`errors.${code}`)) console.error(`untranslated error code: ${code}`, error);
  return has(`errors.${code}`) ? t(`errors.${code}`) : t('errors.generic');
}

function showError(error) {
  $('error').textContent = errorText(error);
  $('error').hidden = false;
}

function hideError() {
  $('error').hidden = true;
}

function formatBytes(bytes) {
  return `${Math.round(bytes / (1024 * 1024))} MB`;
}

function progressReporter() {
  return {
    file(file, fraction) {
      const percent = Math.round(fraction * 100);
      $('progress-text').textContent = t('progress.file', { name: file.name, percent });
      $('progress-bar').value = percent;
    },
    report() {
      $('progress-text').textContent = t('progress.report');
      $('progress-bar').value = 100;
    },
  };
}

function tooLarge(files) {
  return [...files].some((file) => file.size > MAX_FILE_BYTES);
}

async function onReport(event) {
  event.preventDefault();
  const country = $('country').value.trim();
  if (!country) {
    $('country-error').textContent = t('report.country_required');
    $('country-error').hidden = false;
    $('country').setAttribute('aria-invalid', 'true');
    $('country').focus();
    return;
  }
  $('country-error').hidden = true;
  $('country').removeAttribute('aria-invalid');
  const files = [...$('report-files').files];
  if (tooLarge(files)) return showError({ code: 'too_large' });
  show('progress');
  $('progress-text').textContent = t('progress.preparing');
  try {
    const result = await submitReport(
      { country, text: $('account').value, files, lang: currentLanguage() },
      progressReporter(),
    );
    $('report-form').reset();
    $('case-key-display').textContent = result.caseKeyText;
    $('receipt-text').textContent = t('key.receipt_text', { day: result.day, ref: result.caseId.slice(0, 8).toUpperCase() });
    show('key');
  } catch (error) {
    show('report');
    showError(error);
  }
}

function renderCase() {
  $('case-day').textContent = session.day;
  const last = session.replies[session.replies.length - 1];
  const status = last ? last.status : 'received';
  $('case-status').textContent = t(`status.${status}`);
  $('case-status-help').textContent = t(`status.${status}_help`);
  $('case-no-replies').hidden = session.replies.length > 0;
  const list = $('case-replies');
  list.replaceChildren(
    ...session.replies.map((reply) => {
      const item = document.createElement('li');
      const meta = document.createElement('p');
      meta.className = 'reply-meta';
      meta.textContent = t('case.reply_meta', { day: reply.day, status: t(`status.${reply.status}`) });
      const body = document.createElement('p');
      body.className = 'reply-text';
      body.dir = 'auto';
      body.textContent = reply.text;
      item.append(meta, body);
      return item;
    }),
  );
  if (session.refused.length) showError({ code: session.refused[0] });
}

async function onOpenCase(event) {
  event.preventDefault();
  $('case-key-error').hidden = true;
  try {
    session = await openCase($('case-key-input').value);
    $('return-form').reset();
    show('case');
    renderCase();
  } catch (error) {
    const field = String(error.code || '').startsWith('case_key_') || error.code === 'unknown_case';
    if (field) {
      $('case-key-error').textContent = errorText(error);
      $('case-key-error').hidden = false;
      $('case-key-input').setAttribute('aria-invalid', 'true');
    } else {
      showError(error);
    }
  }
}

async function onFollowup(event) {
  event.preventDefault();
  const text = $('followup-text').value;
  const files = [...$('followup-files').files];
  $('followup-sent').hidden = true;
  if (!text.trim() && files.length === 0) return showError({ code: 'followup_empty' });
  if (tooLarge(files)) return showError({ code: 'too_large' });
  const button = event.submitter;
  if (button) button.disabled = true;
  try {
    const sent = await sendFollowup(session, { text, files }, { file() {}, report() {} });
    $('followup-form').reset();
    $('followup-sent').textContent = t('followup.sent', { day: sent.day });
    $('followup-sent').hidden = false;
    hideError();
  } catch (error) {
    showError(error);
  } finally {
    if (button) button.disabled = false;
  }
}

function closeCase() {
  session = null;
  $('case-replies').replaceChildren();
  show('home');
}

async function startFlow(view) {
  show(view);
  try {
    await loadSodium();
    const trust = await loadTrust();
    for (const el of document.querySelectorAll('.root-fingerprint')) el.textContent = trust.rootFingerprint;
  } catch (error) {
    showError({ code: error.code || 'bad_manifest' });
  }
}

function bind() {
  $('go-report').addEventListener('click', () => startFlow('report'));
  $('go-return').addEventListener('click', () => startFlow('return'));
  for (const button of document.querySelectorAll('.go-home')) button.addEventListener('click', () => show('home'));
  $('report-form').addEventListener('submit', onReport);
  $('return-form').addEventListener('submit', onOpenCase);
  $('followup-form').addEventListener('submit', onFollowup);
  $('key-done').addEventListener('click', () => {
    $('case-key-display').textContent = '';
    show('home');
  });
  $('case-close').addEventListener('click', closeCase);
  const select = $('language');
  select.replaceChildren(...languageNames().map(({ code, name }) => new Option(name, code)));
  select.addEventListener('change', async () => {
    await setLanguage(select.value);
    $('report-files-limit').textContent = t('report.size_limit', { size: formatBytes(MAX_FILE_BYTES) });
    if (session && !$('view-case').hidden) renderCase();
  });
}

async function main() {
  bind();
  const lang = pickLanguage();
  await setLanguage(LANGUAGES.includes(lang) ? lang : 'en');
  $('language').value = currentLanguage();
  $('report-files-limit').textContent = t('report.size_limit', { size: formatBytes(MAX_FILE_BYTES) });
  applyTranslations(document);
  show('home');
}

main();
