// vramkit book: widget snapshots cannot be operated (there is no kernel), so disable their controls.
(function () {
  function freeze(root) {
    root.querySelectorAll(".vk-frozen select, .vk-frozen input, .vk-frozen button, .vk-frozen textarea")
      .forEach(function (el) { el.disabled = true; el.tabIndex = -1; });
  }
  function start() {
    freeze(document);
    new MutationObserver(function () { freeze(document); })
      .observe(document.body, {childList: true, subtree: true});
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
