// Wires the views together. All state lives in this module's memory: nothing goes to
// cookies, storage, the URL or history, and closing the tab forgets everything.

import { LANGUAGES, applyTranslations, currentLanguage, languageNames, pickLanguage, setLanguage, t, has } from './ui/i18n.js';
import { submitReport } from './ui/report.js';
import { checkFollowup, openCase, sendFollowup, sendWithdrawal } from './ui/casefile.js';
import { MAX_FILE_BYTES } from './ui/uploader.js';
import { formatBytes, relabelUploadPanels } from './ui/upload_view.js';
import { followupProofStatus, followupStatus, reportFilingStatus, reportProofStatus, sendFollowupFiles, sendReportFiles, showFileListProblem, closeUploadPanels } from './ui/upload_flow.js';
import { retrying } from './ui/retry.js';
import { loadTrust } from './ui/trust.js';
import { bindSingleChoices } from './ui/choices.js';
import { buildConsent, clearConsent, readConsent } from './ui/consent.js';
import { buildReportForm, collectReport, isIntermediary, relabelReportForm, resetReportForm, stepOfPath, validateStep } from './ui/form.js';
import { Steps } from './ui/steps.js';
import { loadSodium } from './sodium.js';
import { CleanedInput } from './ui/metadata.js';
import { VoiceRecorder } from './ui/voice.js';
import { GUIDES, bindGuide } from './ui/guide.js';
import { bindFilePicker } from './ui/file_picker.js';

const $ = (id) => document.getElementById(id);
const VIEWS = ['home', 'report', 'progress', 'key', 'return', 'case', ...GUIDES];
let session = null; // the open case: derived keys, in memory only
const filePickers = []; // the translated stand-ins for the native file inputs
let steps = null;
let evidence = null; // per form: chosen files with photos cleaned of metadata, and a voice recorder

// What a form sends: the chosen files (photos as cleaned copies) and the voice message.
async function evidenceFiles(form) {
  return [...(await evidence[form].files.files()), ...(await evidence[form].voice.files())];
}

function show(view) {
  for (const name of VIEWS) $(`view-${name}`).hidden = name !== view;
  $('loading').hidden = true;
  hideError();
  if (view === 'report') steps.show(steps.current);
  else focusHeading(view);
}

// Focus goes to the view's heading (from script only: tabindex -1), so a screen reader says
// where the person is and a keyboard user sees it; never lost to the page itself.
// After a send, focus moves to the words that say what happened, rather than being lost to
// the page when the button that had it was disabled or hidden meanwhile.
function focusMessage(el) {
  el.tabIndex = -1;
  el.focus();
}

// A button that is sending stays focusable (aria-disabled, not disabled), so a keyboard or
// screen-reader user keeps their place during a slow upload; a second press does nothing.
function setBusy(button, busy) {
  if (!button) return;
  if (busy) button.setAttribute('aria-disabled', 'true');
  else button.removeAttribute('aria-disabled');
}

function isBusy(button) {
  return !!button && button.getAttribute('aria-disabled') === 'true';
}

function focusHeading(view) {
  const heading = $(`view-${view}`).querySelector('h1');
  if (!heading) return $('main').focus();
  heading.tabIndex = -1;
  heading.focus();
}

function errorText(error) {
  const code = (error && error.code) || 'generic';
  if (code !== 'generic' && !has(`errors.${code}`)) console.error(`untranslated error code: ${code}`, error);
  return has(`errors.${code}`) ? t(`errors.${code}`) : t('errors.generic');
}

function showError(error) {
  $('error').textContent = errorText(error);
  $('error').dataset.code = (error && error.code) || 'generic';
  $('error').hidden = false;
}

function hideError() {
  $('error').hidden = true;
}

async function onReport(event) {
  event.preventDefault();
  // Enter in a field, or the send button: only the last step sends.
  if (!steps.isLast()) {
    steps.next();
    return;
  }
  hideError();
  if (!validateStep('where')) return steps.show('where', { focus: false });
  const files = await evidenceFiles('report');
  // Too large or too many: refused before any work, on the step that chose them.
  if (!showFileListProblem(files, $('report-files-error'))) return steps.show('evidence');
  const report = collectReport();
  show('progress');
  $('progress-text').textContent = t('progress.report');
  try {
    // The report goes first, without its files, so its case key exists and is shown at once.
    const result = await submitReport({ report, lang: currentLanguage() }, {
      net: retrying(reportFilingStatus($('progress-text'))), proofStatus: reportProofStatus($('progress-text')),
    });
    resetReportForm();
    steps.reset();
    $('case-key-display').textContent = result.caseKeyText;
    $('receipt-text').textContent = t('key.receipt_text', { day: result.day, ref: result.caseId.slice(0, 8).toUpperCase() });
    show('key');
    // Then the files, as the case's first follow-up, resumable with the key.
    if (files.length) sendReportFiles(result.session, files, { panel: $('key-uploads'), done: $('key-done') });
  } catch (error) {
    // A report the schema refuses goes back to the step that asks for the field.
    if (error && error.code === 'bad_report') steps.current = stepOfPath(error.path);
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
      item.append(meta);
      if (reply.notice === 'still_open') {
        const notice = document.createElement('p');
        notice.className = 'reply-notice';
        notice.textContent = t('case.still_open');
        item.append(notice);
      }
      if (reply.text) {
        const body = document.createElement('p');
        body.className = 'reply-text';
        body.dir = 'auto';
        body.textContent = reply.text;
        item.append(body);
      }
      return item;
    }),
  );
  if (session.refused.length) showError({ code: session.refused[0] });
  if (session.withdrawnDay) $('withdraw-sent').textContent = t('withdraw.sent', { day: session.withdrawnDay });
}

async function onOpenCase(event) {
  event.preventDefault();
  $('case-key-error').hidden = true;
  $('case-key-error').textContent = '';
  $('case-key-input').removeAttribute('aria-invalid');
  try {
    session = await openCase($('case-key-input').value);
    $('return-form').reset();
    resetCaseForms();
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
  const files = await evidenceFiles('followup');
  $('followup-sent').hidden = true;
  if (!text.trim() && files.length === 0) return showError({ code: 'followup_empty' });
  if (!showFileListProblem(files, $('followup-files-error'))) return undefined;
  const button = event.submitter;
  if (isBusy(button)) return undefined;
  setBusy(button, true);
  try {
    checkFollowup(session, { text });
    // The same resumable upload as a new report's: after a reload, the same files continue.
    const attachments = await sendFollowupFiles(session, files, $('followup-uploads'));
    const sent = await sendFollowup(session, { text, attachments }, {
      net: retrying(followupStatus($('followup-sent'))), proofStatus: followupProofStatus($('followup-sent')),
    });
    closeUploadPanels($('followup-uploads'));
    $('followup-form').reset();
    $('followup-sent').textContent = t('followup.sent', { day: sent.day });
    $('followup-sent').hidden = false;
    focusMessage($('followup-sent'));
    hideError();
  } catch (error) {
    // A stopped upload is explained in its panel; anything else here.
    if (!error || !error.shownInPanel) showError(error);
  } finally {
    setBusy(button, false);
  }
}

async function onConsentChange(event) {
  event.preventDefault();
  $('consent-sent').hidden = true;
  $('consent-error').hidden = true;
  const consent = readConsent($('case-consent'));
  const victimConsent = readConsent($('case-victim-consent'));
  if (!Object.keys(consent).length && !Object.keys(victimConsent).length) {
    $('consent-error').textContent = t('change.nothing');
    $('consent-error').hidden = false;
    $('consent-send').focus();
    return;
  }
  if (isBusy($('consent-send'))) return;
  setBusy($('consent-send'), true);
  try {
    const sent = await sendFollowup(session, { text: '', consent, victimConsent }, { proofStatus: followupProofStatus($('consent-sent')) });
    clearConsent($('case-consent'));
    clearConsent($('case-victim-consent'));
    $('consent-sent').textContent = t('change.sent', { day: sent.day });
    $('consent-sent').hidden = false;
    focusMessage($('consent-sent'));
    hideError();
  } catch (error) {
    showError(error);
  } finally {
    setBusy($('consent-send'), false);
  }
}

// Everything that would act on the case: after a withdrawal the server holds no case any more.
const CASE_ACTIONS = ['followup-heading', 'followup-form', 'followup-uploads', 'followup-sent', 'consent-change',
  'withdraw-explain', 'withdraw-start', 'withdraw-confirm'];

async function onWithdraw() {
  if (isBusy($('withdraw-yes'))) return;
  setBusy($('withdraw-yes'), true);
  try {
    const sent = await sendWithdrawal(session);
    session.withdrawnDay = sent.day;
    for (const id of CASE_ACTIONS) $(id).hidden = true;
    $('withdraw-sent').textContent = t('withdraw.sent', { day: sent.day });
    $('withdraw-sent').hidden = false;
    focusMessage($('withdraw-sent'));
    hideError();
  } catch (error) {
    showError(error);
  } finally {
    setBusy($('withdraw-yes'), false);
  }
}

function resetCaseForms() {
  $('followup-form').reset();
  $('followup-sent').hidden = true;
  $('followup-files-error').hidden = true;
  closeUploadPanels($('followup-uploads'));
  clearConsent($('case-consent'));
  clearConsent($('case-victim-consent'));
  $('consent-change').open = false;
  $('consent-change').hidden = false;
  $('case-victim').open = false;
  $('consent-sent').hidden = true;
  $('consent-error').hidden = true;
  $('withdraw').open = false;
  for (const id of ['followup-heading', 'followup-form', 'withdraw-explain']) $(id).hidden = false;
  $('withdraw-start').hidden = false;
  $('withdraw-confirm').hidden = true;
  $('withdraw-sent').hidden = true;
}

function closeCase() {
  session = null;
  $('case-replies').replaceChildren();
  resetCaseForms();
  show('home');
}

// The quick exit: forget everything in memory and replace this page (and its history
// entry) with an empty one, so Back does not return here.
function leave() {
  session = null;
  $('case-key-display').textContent = '';
  $('case-replies').replaceChildren();
  for (const form of document.querySelectorAll('form')) form.reset();
  location.replace('about:blank');
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

// Text set from code (not data-i18n) follows a language switch too.
function relabel() {
  $('report-files-limit').textContent = t('report.size_limit', { size: formatBytes(MAX_FILE_BYTES) });
  $('followup-files-limit').textContent = t('report.size_limit', { size: formatBytes(MAX_FILE_BYTES) });
  showFileListProblem([...$('report-files').files], $('report-files-error'));
  showFileListProblem([...$('followup-files').files], $('followup-files-error'));
  relabelUploadPanels();
  for (const picker of filePickers) picker.relabel();
  relabelReportForm(currentLanguage());
  steps.relabel();
  for (const form of Object.values(evidence)) for (const part of Object.values(form)) part.relabel();
  for (const error of document.querySelectorAll('.field-error[data-key]')) error.textContent = t(error.dataset.key);
  if (!$('error').hidden) showError({ code: $('error').dataset.code });
  if (session && !$('view-case').hidden) renderCase();
}

function bind() {
  bindSingleChoices(document);
  evidence = {};
  for (const form of ['report', 'followup']) {
    evidence[form] = {
      files: new CleanedInput($(`${form}-files`), $(`${form}-files-notes`)),
      voice: new VoiceRecorder($(`${form}-voice`)),
    };
  }
  bindGuide(show);
  buildReportForm(currentLanguage());
  buildConsent($('case-consent'), 'cc');
  buildConsent($('case-victim-consent'), 'cv');
  steps = new Steps($('report-form'), {
    back: $('step-back'),
    next: $('step-next-button'),
    send: $('report-send'),
    progress: $('step-progress'),
    onLeave: () => show('home'),
    isActive: (name) => name !== 'victim' || isIntermediary(),
    validate: validateStep,
  });
  // Choosing or clearing "reporting for someone else" adds or removes the victim's step.
  $('reporter_role').addEventListener('choice', () => steps.relabel());
  $('go-report').addEventListener('click', () => startFlow('report'));
  $('go-return').addEventListener('click', () => startFlow('return'));
  for (const button of document.querySelectorAll('.go-home')) button.addEventListener('click', () => show('home'));
  $('report-form').addEventListener('submit', onReport);
  $('return-form').addEventListener('submit', onOpenCase);
  $('followup-form').addEventListener('submit', onFollowup);
  $('consent-form').addEventListener('submit', onConsentChange);
  $('withdraw-start').addEventListener('click', () => {
    $('withdraw-start').hidden = true;
    $('withdraw-confirm').hidden = false;
    $('withdraw-no').focus();
  });
  $('withdraw-no').addEventListener('click', () => {
    $('withdraw-confirm').hidden = true;
    $('withdraw-start').hidden = false;
    $('withdraw-start').focus();
  });
  $('leave').addEventListener('click', leave);
  $('withdraw-yes').addEventListener('click', onWithdraw);
  for (const id of ['report-files', 'followup-files']) {
    $(id).addEventListener('change', () => showFileListProblem([...$(id).files], $(`${id}-error`)));
    filePickers.push(bindFilePicker($(id)));
  }
  $('key-done').addEventListener('click', () => {
    $('case-key-display').textContent = '';
    closeUploadPanels($('key-uploads'));
    show('home');
  });
  $('case-close').addEventListener('click', closeCase);
  const select = $('language');
  select.replaceChildren(...languageNames().map(({ code, name }) => new Option(name, code)));
  select.addEventListener('change', async () => {
    await setLanguage(select.value);
    relabel();
  });
}

async function main() {
  const lang = pickLanguage();
  await setLanguage(LANGUAGES.includes(lang) ? lang : 'en');
  bind();
  $('language').value = currentLanguage();
  relabel();
  applyTranslations(document);
  show('home');
}

main();
