// The native file input names its button and its "no file chosen" line in the browser's
// language, not the page's. So the input is hidden from sight (it stays focusable, labelled
// and the one the page reads), and a translated button-like label and a line saying how
// many files are chosen stand in for it.

import { t } from './i18n.js';

export function bindFilePicker(input) {
  const status = document.getElementById(`${input.id}-chosen`);
  const render = () => {
    const count = input.files ? input.files.length : 0;
    status.textContent = count ? t('upload.files_chosen', { count }) : t('upload.no_files');
  };
  input.addEventListener('change', render);
  // A form reset empties the input without a change event.
  if (input.form) input.form.addEventListener('reset', () => setTimeout(render, 0));
  return { relabel: render };
}
