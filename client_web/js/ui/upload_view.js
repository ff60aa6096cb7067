// What the person sees while files are sent: for each file a line and a bar ("checking the
// file", then bytes and percent sent), one more for all files together when there are
// several, and a status line that a screen reader announces (connection lost, continuing,
// finished, stopped and why). Numbers and units come from the browser in the page's language
// (Intl.NumberFormat); every sentence comes from the catalogues. Text only, never HTML.

import { currentLanguage, t } from './i18n.js';

const panels = new Set();

// 1 KiB, MiB and GiB, named as the language names kilobytes, megabytes and gigabytes.
export function formatBytes(bytes, lang = currentLanguage()) {
  const units = [['gigabyte', 1024 ** 3], ['megabyte', 1024 ** 2], ['kilobyte', 1024]];
  for (const [unit, size] of units) {
    if (bytes >= size) {
      const digits = bytes >= 10 * size ? 0 : 1;
      return new Intl.NumberFormat(lang, { style: 'unit', unit, maximumFractionDigits: digits }).format(bytes / size);
    }
  }
  return new Intl.NumberFormat(lang, { style: 'unit', unit: 'byte' }).format(bytes);
}

// Rounded down, so nothing reads 100 % before it is finished.
export function formatPercent(fraction, lang = currentLanguage()) {
  const whole = Math.floor(Math.max(0, Math.min(1, fraction)) * 100) / 100;
  return new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 0 }).format(whole);
}

// Refusals while sending, each in words a person can act on (codes from docs/API.md).
export function uploadErrorText(error) {
  const code = (error && error.code) || 'generic';
  switch (code) {
    case 'network': return t('upload.error_network');
    case 'unknown_upload': return t('upload.error_unknown_upload');
    case 'upload_in_use': return t('upload.error_in_use');
    case 'too_large': return t('upload.error_too_large');
    case 'too_many_uploads': return t('upload.error_too_many');
    case 'file_unreadable': return t('upload.error_unreadable');
    case 'upload_incomplete': return t('upload.error_incomplete');
    case 'storage_full': return t('errors.storage_full');
    case 'unavailable': return t('errors.unavailable');
    case 'followup_limit': return t('errors.followup_limit');
    case 'pow_required':
    case 'pow_invalid':
    case 'pow_expired':
      return t(`errors.${code}`);
    case 'bad_chunk_size':
    case 'bad_chunk_index':
    case 'bad_chunk_count':
    case 'bad_resume':
    case 'bad_request':
      return t('upload.error_refused');
    default:
      return t('upload.error_generic');
  }
}

function el(tag, className, text = '') {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

let serial = 0;

export class UploadPanel {
  // `intro`: a function giving the sentence above the bars (or null).
  constructor(container, files, { intro = null } = {}) {
    this.container = container;
    this.intro = intro;
    this.id = `up${(serial += 1)}`;
    this.files = [...files].map((file) => ({ name: file.name, size: file.size, phase: 'waiting', read: 0, done: 0, chunks: 1, already: 0 }));
    this.status = null; // {kind, message, error}
    this.onTryAgain = null;
    this._build();
    panels.add(this);
    this.render();
  }

  _build() {
    const c = this.container;
    c.replaceChildren();
    this.introEl = el('p', 'notice upload-intro');
    this.statusEl = el('p', 'upload-status');
    this.statusEl.setAttribute('role', 'status');
    this.overallText = el('p', 'upload-overall-text');
    this.overallText.id = `${this.id}-overall`;
    this.overallBar = el('progress', 'upload-bar upload-overall');
    this.overallBar.max = 1000;
    this.overallBar.setAttribute('aria-labelledby', this.overallText.id);
    this.list = el('ul', 'upload-files');
    this.rows = this.files.map((_, i) => {
      const item = el('li', 'upload-file');
      // The name isolated in a <bdi>, so a Latin name sits at the start of an Arabic line.
      const name = el('p', 'upload-file-name');
      name.id = `${this.id}-name-${i}`;
      const nameText = el('bdi');
      name.append(nameText);
      const text = el('p', 'upload-file-text');
      text.id = `${this.id}-file-${i}`;
      const bar = el('progress', 'upload-bar');
      bar.max = 1000;
      bar.setAttribute('aria-labelledby', `${name.id} ${text.id}`);
      item.append(name, text, bar);
      this.list.append(item);
      return { item, name: nameText, text, bar };
    });
    this.again = el('button', 'upload-again');
    this.again.type = 'button';
    this.again.addEventListener('click', () => this.onTryAgain && this.onTryAgain());
    const actions = el('div', 'actions');
    actions.append(this.again);
    this.actions = actions;
    c.append(this.introEl, this.statusEl, this.overallText, this.overallBar, this.list, actions);
    c.hidden = false;
  }

  get totalBytes() {
    return this.files.reduce((sum, f) => sum + f.size, 0);
  }

  get sentBytes() {
    return this.files.reduce((sum, f) => sum + (f.phase === 'sent' ? f.size : f.size * (f.done / f.chunks)), 0);
  }

  checking(i, read) {
    Object.assign(this.files[i], { phase: 'checking', read });
    this._renderFile(i);
  }

  sending(i, done, chunks, already = null) {
    const file = this.files[i];
    Object.assign(file, { phase: 'sending', done, chunks });
    if (already !== null) {
      file.already = already;
      if (already > 0) this._setStatus({ kind: 'continuing' });
    }
    this._renderFile(i);
    this._renderOverall();
  }

  sent(i) {
    Object.assign(this.files[i], { phase: 'sent' });
    this._renderFile(i);
    this._renderOverall();
  }

  retrying() {
    this._setStatus({ kind: 'retrying' });
  }

  recovered() {
    if (this.status && this.status.kind === 'retrying') this._setStatus({ kind: 'recovered' });
  }

  filing() {
    this._setStatus({ kind: 'filing' });
  }

  // A proof of work (ui/proof.js) taking noticeable time before an upload is created.
  proving() {
    if (!this.status || this.status.kind !== 'proving') this.beforeProving = this.status;
    this._setStatus({ kind: 'proving' });
  }

  proved() {
    if (this.status && this.status.kind === 'proving') this._setStatus(this.beforeProving || null);
  }

  // `message`: a function giving the closing sentence.
  finished(message) {
    this._setStatus({ kind: 'finished', message });
  }

  stopped(error, message, { canTryAgain = false } = {}) {
    for (const file of this.files) if (file.phase !== 'sent') file.phase = 'stopped';
    this._setStatus({ kind: 'stopped', error, message, canTryAgain });
    this.render();
  }

  close() {
    panels.delete(this);
    this.container.replaceChildren();
    this.container.hidden = true;
  }

  _setStatus(status) {
    this.status = status;
    this._renderStatus();
  }

  _statusText() {
    const s = this.status;
    if (!s) return '';
    switch (s.kind) {
      case 'retrying': return t('upload.retrying');
      case 'recovered': return t('upload.recovered');
      case 'continuing': return t('upload.continuing');
      case 'filing': return t('upload.filing');
      case 'proving': return t('pow.working');
      case 'finished': return s.message();
      case 'stopped': return `${uploadErrorText(s.error)} ${s.message()}`;
      default: return '';
    }
  }

  _renderStatus() {
    const s = this.status;
    this.statusEl.textContent = this._statusText();
    this.statusEl.hidden = !s;
    // "Now sending, keep this page open" no longer holds once everything is in.
    this.introEl.hidden = !this.intro || Boolean(s && s.kind === 'finished');
    this.statusEl.dataset.kind = s ? s.kind : '';
    this.statusEl.classList.toggle('upload-problem', Boolean(s && (s.kind === 'retrying' || s.kind === 'stopped')));
    this.again.hidden = !(s && s.kind === 'stopped' && s.canTryAgain && this.onTryAgain);
    this.again.textContent = t('upload.try_again');
  }

  _renderFile(i) {
    const file = this.files[i];
    const row = this.rows[i];
    row.name.textContent = file.name;
    row.item.dataset.phase = file.phase;
    let fraction = 0;
    let text;
    switch (file.phase) {
      case 'checking':
        fraction = file.size ? file.read / file.size : 1;
        text = t('upload.checking', { percent: formatPercent(fraction) });
        break;
      case 'sending':
        fraction = file.done / file.chunks;
        text = t('upload.sending', {
          done: formatBytes(file.size * fraction), total: formatBytes(file.size), percent: formatPercent(fraction),
        });
        break;
      case 'sent':
        fraction = 1;
        text = t('upload.sent', { total: formatBytes(file.size) });
        break;
      case 'stopped':
        fraction = file.done / file.chunks;
        text = t('upload.file_stopped', { percent: formatPercent(fraction) });
        break;
      default:
        text = t('upload.waiting', { total: formatBytes(file.size) });
    }
    row.text.textContent = text;
    row.bar.value = Math.round(fraction * 1000);
  }

  _renderOverall() {
    const several = this.files.length > 1;
    this.overallText.hidden = !several;
    this.overallBar.hidden = !several;
    if (!several) return;
    const total = this.totalBytes;
    const fraction = total ? this.sentBytes / total : this.files.every((f) => f.phase === 'sent') ? 1 : 0;
    this.overallText.textContent = t('upload.overall', {
      done: formatBytes(this.sentBytes), total: formatBytes(total), percent: formatPercent(fraction),
    });
    this.overallBar.value = Math.round(fraction * 1000);
  }

  render() {
    this.introEl.textContent = this.intro ? this.intro() : '';
    this.files.forEach((_, i) => this._renderFile(i));
    this._renderOverall();
    this._renderStatus();
  }
}

// After a language switch: every panel on the page in the new language.
export function relabelUploadPanels() {
  for (const panel of panels) panel.render();
}
