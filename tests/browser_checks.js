// What a reader would see as broken on a chapter page; tests/test_browser.py evaluates this in the
// page and expects every list empty. Each entry names the element, so a failure says where.
() => {
  const article = document.querySelector("article.bd-article");
  const col = article.getBoundingClientRect();
  const visible = (el) => {
    if (!el.getClientRects().length) return false;
    for (let e = el; e; e = e.parentElement) {
      if (e.tagName === "DETAILS" && !e.open && !(e.firstElementChild && e.firstElementChild.contains(el))) return false;
    }
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const name = (el) => (el.id || el.closest("[id]")?.id || el.tagName) + ": " + (el.textContent || "").trim().slice(0, 50);
  const out = {wide_charts: [], overlapping_labels: [], clipped_math: [], page_scrolls_sideways: [],
               visible_under_closed_answer: [], chart_actions_off_site: [], live_looking_widgets: []};

  // 1. Charts (their legends included) inside the text column.
  document.querySelectorAll(".bd-article .vega-embed").forEach((embed) => {
    const svg = embed.querySelector("svg.marks");
    if (!svg) return;
    const r = svg.getBoundingClientRect();
    if (r.right > col.right + 1 || r.left < col.left - 1 || r.width > embed.getBoundingClientRect().width + 1)
      out.wide_charts.push(`${embed.parentElement.id}: chart ${Math.round(r.width)} px, column ${Math.round(col.width)} px`);
  });

  // 2. Text marks and legend labels of one chart must not print over each other.
  document.querySelectorAll(".bd-article .vega-embed svg.marks").forEach((svg) => {
    // (Axis labels are left out: vega thins them itself, and a rotated label's box overlaps its
    // neighbour's box without its glyphs doing so.)
    const texts = [...svg.querySelectorAll(".role-mark text, .role-legend-label text")]
      .filter((t) => t.textContent.trim() && t.getAttribute("opacity") !== "0" && t.getAttribute("fill-opacity") !== "0")
      .map((t) => [t, t.getBoundingClientRect()]).filter(([, r]) => r.width > 0);
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < texts.length; j++) {
        const [a, ra] = texts[i], [b, rb] = texts[j];
        const dx = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
        const dy = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
        if (dx > 2 && dy > 0.4 * Math.min(ra.height, rb.height)) {
          out.overlapping_labels.push(`${svg.closest(".vega-embed").parentElement.id}: "${a.textContent}" over "${b.textContent}"`);
          if (out.overlapping_labels.length > 20) return;
        }
      }
    }
  });

  // 3. Display math either fits its line or scrolls inside it; never cut off.
  document.querySelectorAll(".bd-article mjx-container").forEach((m) => {
    const math = m.querySelector("mjx-math");
    if (!math || !visible(m)) return;
    const wide = math.getBoundingClientRect().width > m.clientWidth + 1;
    const scroller = (el) => { for (let e = el; e && e !== article; e = e.parentElement)
      if (["auto", "scroll"].includes(getComputedStyle(e).overflowX)) return true; return false; };
    const scrolls = scroller(m);
    const parentCut = math.getBoundingClientRect().right > col.right + 1 && !scrolls;
    // On a desktop a formula must fit its column outright; on a phone it may scroll in its line.
    const desktop = window.innerWidth >= 1000;
    if ((wide && (desktop || !scrolls)) || parentCut) out.clipped_math.push(name(m.closest(".math") || m));
  });

  // 4. Nothing makes the page wider than the window (phones scroll sideways otherwise).
  const extra = document.documentElement.scrollWidth - window.innerWidth;
  if (extra > 1) {
    const culprits = [...article.querySelectorAll("*")].filter((e) => {
      const r = e.getBoundingClientRect();
      return r.right > window.innerWidth + 1;
    }).slice(-3).map((e) => e.tagName + "." + e.className + " " + name(e));
    out.page_scrolls_sideways.push(`${extra} px wider than the window: ${culprits.join(" | ")}`);
  }

  // 5. A closed answer box: the answer cell right after it shows nothing until opened.
  document.querySelectorAll("details.vk-answer:not([open])").forEach((box) => {
    box.querySelectorAll(":scope > :not(summary)").forEach((el) => { if (visible(el)) out.visible_under_closed_answer.push(name(el)); });
    const next = box.nextElementSibling;
    if (next && next.classList.contains("cell")) {
      next.querySelectorAll(".cell_output, .cell_input").forEach((el) => {
        if (visible(el)) out.visible_under_closed_answer.push(name(box) + " -> " + name(el));
      });
    }
  });

  // 6. The chart menu keeps the reader on the site (no "Open in Vega Editor").
  document.querySelectorAll(".vega-embed .vega-actions a").forEach((a) => {
    const href = a.getAttribute("href") || "";
    if (/^https?:/.test(href) || /editor/i.test(a.textContent)) out.chart_actions_off_site.push(a.textContent.trim());
  });

  // 7. Widget snapshots say they are frozen, and their controls are disabled.
  document.querySelectorAll(".bd-article .cell_output").forEach((o) => {
    if (!o.querySelector('script[type="application/vnd.jupyter.widget-view+json"], .jupyter-widgets')) return;
    if (!o.querySelector(".vk-snapshot-note")) out.live_looking_widgets.push("no frozen-snapshot note: " + name(o));
    o.querySelectorAll("select, input, button").forEach((c) => { if (!c.disabled) out.live_looking_widgets.push("enabled control: " + name(c)); });
  });
  return out;
}
