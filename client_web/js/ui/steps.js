// A form in short steps: one <section class="step"> shown at a time, "Step n of N" in its
// heading, focus moved to that heading so a screen reader announces where the person is.
// A step may be left out (the victim's consent, when nobody reports for someone else).

import { t } from './i18n.js';

export class Steps {
  constructor(form, { back, next, send, progress, onLeave, isActive = () => true, validate = () => true }) {
    this.form = form;
    this.all = [...form.querySelectorAll('section.step')];
    this.buttons = { back, next, send };
    this.progress = progress;
    this.onLeave = onLeave; // called by Back on the first step
    this.isActive = isActive;
    this.validate = validate; // (name) => true, or false after showing what to fix
    this.current = this.all[0].dataset.step;
    back.addEventListener('click', () => this.back());
    next.addEventListener('click', () => this.next());
  }

  active() {
    return this.all.filter((section) => this.isActive(section.dataset.step));
  }

  index() {
    return this.active().findIndex((section) => section.dataset.step === this.current);
  }

  isLast() {
    const active = this.active();
    return active.length > 0 && active[active.length - 1].dataset.step === this.current;
  }

  show(name, { focus = true } = {}) {
    this.current = name;
    const active = this.active();
    const position = this.index();
    for (const section of this.all) section.hidden = section.dataset.step !== name;
    this.relabel();
    this.progress.max = active.length;
    this.progress.value = position + 1;
    this.buttons.next.hidden = this.isLast();
    this.buttons.send.hidden = !this.isLast();
    if (focus) {
      const heading = this.section(name).querySelector('.step-heading');
      window.scrollTo(0, 0);
      heading.focus();
    }
  }

  // The "Step n of N" text, again after a language switch or when the step count changes.
  relabel() {
    const active = this.active();
    const position = this.index();
    for (const section of this.all) {
      const n = active.indexOf(section) + 1;
      section.querySelector('.step-of').textContent = n ? t('steps.indicator', { n, total: active.length }) : '';
    }
    if (position < 0) return;
    this.progress.max = active.length;
    this.progress.value = position + 1;
  }

  section(name) {
    return this.all.find((section) => section.dataset.step === name);
  }

  next() {
    if (!this.validate(this.current)) return false;
    const active = this.active();
    const position = this.index();
    if (position < active.length - 1) this.show(active[position + 1].dataset.step);
    return true;
  }

  back() {
    const active = this.active();
    const position = this.index();
    if (position <= 0) return this.onLeave();
    this.show(active[position - 1].dataset.step);
  }

  reset() {
    this.show(this.all[0].dataset.step, { focus: false });
  }
}
