// Sending files, as the page's views use it: a new report's files as the case's first
// follow-up, shown under the case key; the case view's "Add information" files; the checks
// that refuse a file list before any work; and the status lines while the connection is gone.

import { t } from './i18n.js';
import { sendFollowup } from './casefile.js';
import { MAX_FILE_BYTES, MAX_FILES, tooLargeFiles, uploadFiles } from './uploader.js';
import { UploadPanel, formatBytes } from './upload_view.js';
import { retrying } from './retry.js';

const open = new Map(); // container -> its panel

function panelIn(container, files, options) {
  closeUploadPanels(container);
  const panel = new UploadPanel(container, files, options);
  open.set(container, panel);
  return panel;
}

export function closeUploadPanels(container) {
  const panel = open.get(container);
  if (panel) panel.close();
  open.delete(container);
}

// Too large or too many: explained under the file input, in the page's language, before
// anything is read. Returns true when the list can be sent.
export function showFileListProblem(files, errorEl) {
  const large = tooLargeFiles(files);
  let text = '';
  if (large.length) {
    // Each name isolated (U+2068 … U+2069), so a Latin name in Arabic text keeps its order.
    const names = large.map((f) => `\u2068${f.name}\u2069`).join(', ');
    text = t('upload.too_large_file', { name: names, size: formatBytes(MAX_FILE_BYTES) });
  } else if (files.length > MAX_FILES) {
    text = t('upload.too_many_files', { count: MAX_FILES });
  }
  errorEl.textContent = text;
  errorEl.hidden = !text;
  return !text;
}

// A new report's files: uploaded under the case key just shown, then filed as the case's
// first follow-up (empty text, the attachments listed). `done` (the "I have written it
// down" button) waits until the files are in or have stopped.
export async function sendReportFiles(session, files, { panel: container, done }) {
  const panel = panelIn(container, files, { intro: () => t('upload.report_in') });
  panel.onTryAgain = () => sendReportFiles(session, files, { panel: container, done });
  done.hidden = true;
  const net = retrying(panel);
  try {
    const attachments = await uploadFiles(files, { uploadRoot: session.uploadRoot, net, tracker: panel });
    panel.filing();
    await sendFollowup(session, { text: '', attachments }, { net, proofStatus: { working: () => panel.proving(), done: () => panel.proved() } });
    panel.finished(() => t('upload.report_done'));
  } catch (error) {
    panel.stopped(error, () => t('upload.report_stopped'), { canTryAgain: true });
  } finally {
    if (open.get(container) === panel) done.hidden = false;
  }
}

// The case view's files: uploaded (resuming what an earlier visit started) and returned as
// descriptors for the follow-up. A stop is explained in the panel; the error then carries
// `shownInPanel`.
export async function sendFollowupFiles(session, files, container) {
  if (!files.length) {
    closeUploadPanels(container);
    return [];
  }
  const panel = panelIn(container, files);
  try {
    const attachments = await uploadFiles(files, { uploadRoot: session.uploadRoot, net: retrying(panel), tracker: panel });
    panel.filing();
    return attachments;
  } catch (error) {
    panel.stopped(error, () => t('upload.followup_stopped'));
    const shown = error instanceof Error ? error : new Error(String(error));
    shown.shownInPanel = true;
    throw shown;
  }
}

// The line under "Encrypting and sending" while the report itself waits for the network.
export function reportFilingStatus(textEl) {
  return {
    retrying: () => { textEl.textContent = t('upload.retrying'); },
    recovered: () => { textEl.textContent = t('progress.report'); },
  };
}

// The line under "Encrypting and sending" while the proof of work for the report takes time.
export function reportProofStatus(textEl) {
  return {
    working: () => { textEl.textContent = t('pow.working'); },
    done: () => { textEl.textContent = t('progress.report'); },
  };
}

// A case view status line while a follow-up's proof of work takes time.
export function followupProofStatus(statusEl) {
  return {
    working: () => {
      statusEl.textContent = t('pow.working');
      statusEl.hidden = false;
    },
    done: () => {
      statusEl.hidden = true;
    },
  };
}

// The case view's status line while a follow-up waits for the network.
export function followupStatus(statusEl) {
  return {
    retrying: () => {
      statusEl.textContent = t('upload.retrying');
      statusEl.hidden = false;
    },
    recovered: () => {
      statusEl.hidden = true;
    },
  };
}
