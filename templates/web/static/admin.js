// The desk's only script (no inline scripts: the Content-Security-Policy forbids them).
// Pages work without it; it only refreshes parts marked data-refresh.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // <section data-refresh="URL" data-every="2">: replace its contents with URL's HTML
  // every few seconds (a campaign's progress), until the fragment says data-final.
  for (const box of document.querySelectorAll("[data-refresh]")) {
    const every = Number(box.dataset.every || "2") * 1000;
    const tick = async () => {
      try {
        const answer = await fetch(box.dataset.refresh, { credentials: "same-origin" });
        // Redirected: the session ended. Say so and stop (a reload would lose a form's edits).
        if (answer.redirected) {
          box.textContent = "Signed out: sign in again (in another tab, to keep this page's edits).";
          return;
        }
        if (answer.ok) box.innerHTML = await answer.text();
      } catch (error) { /* the next tick tries again */ }
      if (!box.querySelector("[data-final]")) setTimeout(tick, every);
    };
    if (!box.querySelector("[data-final]")) setTimeout(tick, every);
  }
  // <form data-confirm="Question?">: ask before submitting.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
});
