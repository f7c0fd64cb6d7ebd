// Progressive enhancement: Copy buttons put a read-only field's value on the
// clipboard. Without scripts the field is still there to select and copy,
// and the buttons stay hidden.
for (const button of document.querySelectorAll('button[data-copy]')) button.hidden = false;
document.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-copy]');
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  if (!field) return;
  navigator.clipboard.writeText(field.value).then(
    () => { button.textContent = 'Copied'; },
    () => { field.select(); button.textContent = 'Press Ctrl+C'; },
  );
});
