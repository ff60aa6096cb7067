// A voice message, for people who would rather speak than write: recorded in the page with
// MediaRecorder, kept only in this page's memory (a Blob, never stored), played back or
// deleted, and sent as an encrypted attachment like any other file. The microphone is asked
// for only when the person presses "Record", and released as soon as recording stops.

import { t } from './i18n.js';
import { markMadeHere } from './metadata.js';

export const LIMIT_SECONDS = 10 * 60;
const BITS_PER_SECOND = 32_000; // speech stays clear; ten minutes is about 2.4 MB on a slow network
const TYPES = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm', 'audio/ogg', 'audio/mp4'];
const EXTENSIONS = { 'audio/webm': 'webm', 'audio/ogg': 'ogg', 'audio/mp4': 'm4a' };

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function supportedType() {
  if (typeof MediaRecorder !== 'function' || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return null;
  return TYPES.find((type) => MediaRecorder.isTypeSupported(type)) || '';
}

function problemKey(error) {
  const name = error && error.name;
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') return 'voice.error_denied';
  if (name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'DevicesNotFoundError') return 'voice.error_no_microphone';
  if (name === 'NotReadableError' || name === 'AbortError' || name === 'TrackStartError') return 'voice.error_busy';
  return 'voice.error_generic';
}

export class VoiceRecorder {
  // `root` holds .voice-record, .voice-stop, .voice-discard, .voice-status, .voice-live
  // and an <audio class="voice-playback">; `onChange` is told when a recording is made or dropped.
  constructor(root, { onChange = () => {} } = {}) {
    this.root = root;
    this.onChange = onChange;
    this.el = (name) => root.querySelector(`.voice-${name}`);
    this.state = 'idle'; // idle | starting | recording | done
    this.blob = null;
    this.type = '';
    this.seconds = 0;
    this.message = null; // {key, vars}: what the status line says, kept for a language switch
    this.el('record').addEventListener('click', () => this.start());
    this.el('stop').addEventListener('click', () => this.stop());
    this.el('discard').addEventListener('click', () => {
      this.discard();
      this.say('voice.discarded', {}, true);
      this.el('record').focus();
    });
    const form = root.closest('form');
    if (form) form.addEventListener('reset', () => this.discard());
    this.relabel();
  }

  say(key, vars = {}, announce = false) {
    this.message = key ? { key, vars } : null;
    this.renderStatus();
    if (announce) this.el('live').textContent = this.el('status').textContent;
  }

  renderStatus() {
    const status = this.el('status');
    status.classList.toggle('voice-problem', Boolean(this.message && this.message.key.startsWith('voice.error')));
    if (!this.message) {
      status.textContent = '';
      return;
    }
    const vars = { ...this.message.vars, limit: clock(LIMIT_SECONDS), time: clock(this.seconds) };
    const { key } = this.message;
    // Each text is named in full, so the catalogue check sees every key.
    const texts = {
      'voice.recording': () => t('voice.recording', vars),
      'voice.ready': () => t('voice.ready', vars),
      'voice.limit_reached': () => t('voice.limit_reached', vars),
      'voice.discarded': () => t('voice.discarded'),
      'voice.asking': () => t('voice.asking'),
      'voice.error_denied': () => t('voice.error_denied'),
      'voice.error_no_microphone': () => t('voice.error_no_microphone'),
      'voice.error_busy': () => t('voice.error_busy'),
      'voice.error_generic': () => t('voice.error_generic'),
      'voice.error_unsupported': () => t('voice.error_unsupported'),
    };
    status.textContent = texts[key] ? texts[key]() : '';
  }

  relabel() {
    this.el('limit').textContent = t('voice.limit', { minutes: LIMIT_SECONDS / 60 });
    this.el('playback').setAttribute('aria-label', t('voice.playback'));
    this.renderStatus();
  }

  buttons() {
    this.el('record').hidden = this.state === 'recording' || this.state === 'done';
    this.el('record').disabled = this.state === 'starting';
    this.el('stop').hidden = this.state !== 'recording';
    this.el('discard').hidden = this.state !== 'done';
    this.el('playback').hidden = this.state !== 'done';
    this.root.classList.toggle('voice-on', this.state === 'recording');
  }

  async start() {
    if (this.state !== 'idle') return;
    const type = supportedType();
    if (type === null) return this.say('voice.error_unsupported', {}, true);
    this.state = 'starting';
    this.buttons();
    this.say('voice.asking', {}, true);
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    } catch (error) {
      this.state = 'idle';
      this.buttons();
      this.say(problemKey(error), {}, true);
      return;
    }
    if (this.state !== 'starting') { // the form was reset while the browser was asking
      for (const track of stream.getTracks()) track.stop();
      return;
    }
    let recorder;
    try {
      recorder = new MediaRecorder(stream, { ...(type ? { mimeType: type } : {}), audioBitsPerSecond: BITS_PER_SECOND });
    } catch (error) {
      for (const track of stream.getTracks()) track.stop();
      this.state = 'idle';
      this.buttons();
      this.say('voice.error_generic', {}, true);
      return;
    }
    const chunks = [];
    this.stream = stream;
    this.recorder = recorder;
    this.stopped = new Promise((resolve) => {
      recorder.addEventListener('dataavailable', (event) => { if (event.data && event.data.size) chunks.push(event.data); });
      recorder.addEventListener('stop', () => {
        this.release();
        if (this.recorder !== recorder) return resolve(); // discarded
        this.recorder = null;
        this.type = (recorder.mimeType || type || 'audio/webm').split(';')[0];
        this.blob = new Blob(chunks, { type: this.type });
        chunks.length = 0;
        this.state = 'done';
        this.el('playback').src = URL.createObjectURL(this.blob);
        this.buttons();
        this.say(this.seconds >= LIMIT_SECONDS ? 'voice.limit_reached' : 'voice.ready', {}, true);
        this.onChange();
        resolve();
      });
    });
    this.seconds = 0;
    this.startedAt = performance.now();
    recorder.start(1000);
    this.state = 'recording';
    this.buttons();
    this.say('voice.recording', {}, true);
    this.el('stop').focus();
    this.timer = setInterval(() => {
      this.seconds = Math.min(LIMIT_SECONDS, (performance.now() - this.startedAt) / 1000);
      this.renderStatus(); // the clock changes on screen only: a screen reader is told at start and stop
      if (this.seconds >= LIMIT_SECONDS) this.stop();
    }, 250);
  }

  async stop() {
    if (this.state !== 'recording' || !this.recorder) return;
    clearInterval(this.timer);
    this.seconds = Math.min(LIMIT_SECONDS, (performance.now() - this.startedAt) / 1000);
    const { stopped } = this;
    this.recorder.stop();
    await stopped;
    if (this.state === 'done') this.el('discard').focus();
  }

  release() {
    clearInterval(this.timer);
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
  }

  discard() {
    const recorder = this.recorder;
    this.recorder = null;
    if (recorder && recorder.state !== 'inactive') recorder.stop();
    this.release();
    const playback = this.el('playback');
    if (playback.src) {
      playback.pause();
      URL.revokeObjectURL(playback.src);
      playback.removeAttribute('src');
      playback.load();
    }
    const had = Boolean(this.blob);
    this.blob = null;
    this.seconds = 0;
    this.state = 'idle';
    this.buttons();
    this.say(null);
    this.el('live').textContent = '';
    if (had) this.onChange();
  }

  // The recording as a file to send (stopping first if it is still running), or none.
  async files() {
    if (this.state === 'recording') await this.stop();
    if (!this.blob) return [];
    const name = `voice-message.${EXTENSIONS[this.type] || 'webm'}`;
    return [markMadeHere(new File([this.blob], name, { type: this.type }))];
  }
}
