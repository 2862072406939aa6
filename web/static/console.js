// pingauth console: tiny progressive enhancements (no inline scripts: CSP).
(function () {
  'use strict';
  // Forms with data-confirm ask before submitting.
  document.addEventListener('submit', function (e) {
    var msg = e.target.getAttribute && e.target.getAttribute('data-confirm');
    if (msg && !window.confirm(msg)) { e.preventDefault(); }
  }, true);
  // Buttons with data-copy="<element id>" copy that element's text.
  document.addEventListener('click', function (e) {
    var b = e.target.closest && e.target.closest('[data-copy]');
    if (!b) { return; }
    var el = document.getElementById(b.getAttribute('data-copy'));
    if (!el) { return; }
    var text = el.textContent;
    var done = function () { var t = b.textContent; b.textContent = 'Copied'; setTimeout(function () { b.textContent = t; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
    } else {
      var r = document.createRange(); r.selectNodeContents(el);
      var s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
      try { document.execCommand('copy'); done(); } catch (err) { /* selected for manual copy */ }
    }
  });
})();
