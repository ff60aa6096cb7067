// Two short guidance pages (staying safe; what happens to a report), opened from the home
// page and from the discreet links under every view. They are views of this one page, not
// addresses: opening one adds nothing to the history, and "Back" returns to the view the
// person came from, with whatever they had typed still there.

export const GUIDES = ['safety', 'after'];

export function bindGuide(show) {
  let from = 'home';
  const open = (name) => {
    const visible = document.querySelector('#main > section[id^="view-"]:not([hidden])');
    const current = visible ? visible.id.slice('view-'.length) : 'home';
    if (!GUIDES.includes(current)) from = current;
    show(name);
    const heading = document.querySelector(`#view-${name} h1`);
    window.scrollTo(0, 0);
    heading.focus();
  };
  for (const button of document.querySelectorAll('[data-guide]')) {
    button.addEventListener('click', () => open(button.dataset.guide));
  }
  for (const button of document.querySelectorAll('.guide-back')) {
    button.addEventListener('click', () => show(from));
  }
}
