// Photos lose their hidden details (EXIF, GPS, camera, author, text chunks) on this device,
// before they are hashed, encrypted or sent: the browser's own decoder draws the picture
// (with the EXIF orientation applied, so it is not shown turned) and its own encoder writes
// a new file of the same type and name. No metadata block is parsed here; whatever was not
// pixels is simply not copied. Other kinds of file that may carry identifying details are
// named to the person, in plain words.

import { t } from './i18n.js';

const CLEANABLE = ['image/jpeg', 'image/png', 'image/webp'];
const JPEG_QUALITY = 0.92;
const MAX_PIXELS = 50_000_000; // beyond this a cheap phone may run out of memory: kept, with a warning

const EXTENSION_TYPES = {
  jpg: 'image/jpeg', jpeg: 'image/jpeg', jpe: 'image/jpeg', jfif: 'image/jpeg', png: 'image/png', webp: 'image/webp',
};
const DOCUMENT = /\.(pdf|docx?|odt|rtf|xlsx?|ods|pptx?|odp|pages|numbers|key|epub)$/i;
const IMAGE_OTHER = /\.(heic|heif|tiff?|gif|bmp|avif|dng|cr2|nef|arw|raw|svg)$/i;
const VIDEO = /\.(mp4|m4v|mov|3gp|3g2|avi|mkv|webm|wmv|flv)$/i;
const AUDIO = /\.(mp3|m4a|aac|ogg|oga|opus|wav|flac|amr|wma|3ga)$/i;
const PLAIN = /\.(txt|csv|md)$/i;

// Files this page made itself (a voice message), which carry nothing but what was recorded.
const madeHere = new WeakSet();
export function markMadeHere(file) {
  madeHere.add(file);
  return file;
}

function typeOf(file) {
  const type = String(file.type || '').toLowerCase().split(';')[0].trim();
  if (type) return type;
  const ext = String(file.name || '').toLowerCase().split('.').pop();
  return EXTENSION_TYPES[ext] || '';
}

// Which warning (a catalogue key) a file that is not cleaned gets, or null.
function warningFor(file, type) {
  const name = String(file.name || '');
  if (type.startsWith('image/') || IMAGE_OTHER.test(name)) return 'metadata.warn_image';
  if (type.startsWith('video/') || VIDEO.test(name)) return 'metadata.warn_video';
  if (type.startsWith('audio/') || AUDIO.test(name)) return 'metadata.warn_audio';
  if (type === 'application/pdf' || DOCUMENT.test(name) || /officedocument|msword|opendocument|rtf|epub/.test(type)) {
    return 'metadata.warn_document';
  }
  if (type === 'text/plain' || type === 'text/csv' || PLAIN.test(name)) return null;
  return 'metadata.warn_other';
}

async function encode(bitmap, type) {
  const quality = type === 'image/png' ? undefined : JPEG_QUALITY;
  if (typeof OffscreenCanvas === 'function') {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext('2d');
    if (type === 'image/jpeg') {
      // JPEG has no transparency: paint white under it, as a photo viewer would.
      context.fillStyle = '#ffffff';
      context.fillRect(0, 0, bitmap.width, bitmap.height);
    }
    context.drawImage(bitmap, 0, 0);
    return canvas.convertToBlob({ type, quality });
  }
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext('2d');
  if (type === 'image/jpeg') {
    context.fillStyle = '#ffffff';
    context.fillRect(0, 0, bitmap.width, bitmap.height);
  }
  context.drawImage(bitmap, 0, 0);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, type, quality));
  canvas.width = 0; // let the pixels go at once
  return blob;
}

// -> {file, cleaned, warning}: `file` is what must be sent (the cleaned copy, or the
// original when it could not or need not be cleaned); `warning` is a catalogue key or null.
export async function cleanFile(file) {
  if (madeHere.has(file)) return { file, cleaned: false, warning: null };
  const type = typeOf(file);
  if (!CLEANABLE.includes(type)) return { file, cleaned: false, warning: warningFor(file, type) };
  let bitmap = null;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
    if (!bitmap.width || !bitmap.height || bitmap.width * bitmap.height > MAX_PIXELS) throw new Error('too big');
    const blob = await encode(bitmap, type);
    // A browser that cannot write this type silently writes PNG instead: not the same file.
    if (!blob || blob.type !== type) throw new Error(`cannot encode ${type}`);
    return { file: new File([blob], file.name, { type }), cleaned: true, warning: null };
  } catch {
    return { file, cleaned: false, warning: 'metadata.warn_failed' };
  } finally {
    if (bitmap) bitmap.close();
  }
}

export async function cleanFiles(files) {
  const results = [];
  for (const file of files) results.push({ name: file.name, ...(await cleanFile(file)) }); // one at a time: little memory
  return results;
}

function noteText(result) {
  const name = result.name;
  if (result.cleaned) return t('metadata.cleaned', { name });
  switch (result.warning) {
    case 'metadata.warn_failed': return t('metadata.warn_failed', { name });
    case 'metadata.warn_image': return t('metadata.warn_image', { name });
    case 'metadata.warn_video': return t('metadata.warn_video', { name });
    case 'metadata.warn_audio': return t('metadata.warn_audio', { name });
    case 'metadata.warn_document': return t('metadata.warn_document', { name });
    case 'metadata.warn_other': return t('metadata.warn_other', { name });
    default: return '';
  }
}

// A file input whose chosen files are cleaned as soon as they are chosen, with a note for
// each under it; `files()` gives the files to send (cleaning again if the choice changed).
export class CleanedInput {
  constructor(input, notes) {
    this.input = input;
    this.notes = notes;
    this.chosen = [];
    this.pending = Promise.resolve([]);
    this.results = [];
    input.addEventListener('change', () => this.refresh());
    if (input.form) input.form.addEventListener('reset', () => this.clear());
  }

  same() {
    const now = [...this.input.files];
    return now.length === this.chosen.length && now.every((file, i) => file === this.chosen[i]);
  }

  refresh() {
    const chosen = [...this.input.files];
    this.chosen = chosen;
    this.results = [];
    this.render();
    if (chosen.length) {
      this.notes.hidden = false;
      this.notes.setAttribute('aria-busy', 'true');
      this.notes.replaceChildren(this.item(t('metadata.checking'), 'metadata-busy'));
    }
    this.pending = cleanFiles(chosen).then((results) => {
      if (this.chosen === chosen) {
        this.results = results;
        this.render();
      }
      return results;
    });
    return this.pending;
  }

  async files() {
    const results = this.same() ? await this.pending : await this.refresh();
    return results.map((result) => result.file);
  }

  relabel() {
    if (this.notes.getAttribute('aria-busy') !== 'true') this.render();
  }

  clear() {
    this.chosen = [];
    this.results = [];
    this.pending = Promise.resolve([]);
    this.render();
  }

  item(text, kind) {
    const li = document.createElement('li');
    li.className = kind;
    li.textContent = text;
    return li;
  }

  render() {
    this.notes.removeAttribute('aria-busy');
    const items = this.results
      .filter((result) => result.cleaned || result.warning)
      .map((result) => this.item(noteText(result), result.cleaned ? 'metadata-cleaned' : 'metadata-warning'));
    this.notes.replaceChildren(...items);
    this.notes.hidden = items.length === 0;
  }
}
