// vramkit book, search page: snippets from the chapter's own text, not the theme around it.
// Sphinx 7.4 takes a result's snippet from the page's [role="main"], which in sphinx-book-theme
// also holds the header buttons and the page's table of contents.
// This script loads before searchtools.js, so it patches at DOMContentLoaded: its listener is
// registered first, so it runs before Search.init starts the search.
document.addEventListener("DOMContentLoaded", function () {
  if (typeof Search === "undefined") return;
  Search.htmlToText = function (htmlString, anchor) {
    var doc = new DOMParser().parseFromString(htmlString, "text/html");
    [".headerlink", "script", "style", ".vega-embed", ".vk-snapshot-note"].forEach(function (q) {
      doc.querySelectorAll(q).forEach(function (el) { el.remove(); });
    });
    var article = doc.querySelector("article.bd-article") || doc.querySelector('[role="main"]');
    if (!article) return "";
    if (anchor) {
      var part = article.querySelector(anchor);
      if (part) return part.textContent;
    }
    return article.textContent;
  };
});
