// The static site's search: every word of the query must appear in a paper's titles,
// authors or affiliations (case and width folded, so a two-character Chinese word works);
// title matches come first. An arXiv ID or link opens that paper's page.
"use strict";
(async () => {
  const form = document.querySelector("form.search"), out = document.getElementById("results");
  const params = new URLSearchParams(location.search), fold = (s) => s.normalize("NFKC").toLowerCase();
  const q = params.get("q") || "", category = params.get("category") || "", year = params.get("year") || "";
  for (const [name, value] of [["q", q], ["category", category], ["year", year]]) form.elements[name].value = value;
  const id = q.trim().match(/^(?:(?:https?:\/\/)?(?:www\.|export\.)?arxiv\.org\/(?:abs|pdf|html)\/|arxiv:)?(\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[a-z]{2})?\/\d{7})(?:v\d+)?(?:\.pdf)?\/?$/i);
  const index = await (await fetch(form.dataset.index)).json();
  if (id) {
    const key = id[1].includes("/") ? id[1].split("/")[0].split(".")[0].toLowerCase() + "/" + id[1].split("/")[1] : id[1];
    if (index.papers.some((p) => p[0] === key)) { location.replace(form.dataset.papers + key + "/"); return; }
  }
  const words = fold(q).split(/[\s\p{P}\p{S}]+/u).filter(Boolean).slice(0, 12);
  if (!words.length && !category && !year) return;
  const found = index.papers.filter((p) => (!category || p[1] === category) && (!year || index.dates[p[5]].startsWith(year + "-"))
    && words.every((w) => fold(p[2] + " " + p[3] + " " + p[4] + " " + p[6]).includes(w)))
    .map((p) => [words.filter((w) => fold(p[2] + " " + p[3]).includes(w)).length, p])
    .sort((a, b) => b[0] - a[0]).slice(0, 100);
  const mark = (text) => { const span = document.createElement("span"); let rest = text;
    const re = words.length ? new RegExp(words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "iu") : null;
    for (let m = re && rest.match(re); m; m = rest.match(re)) {
      span.append(rest.slice(0, m.index), Object.assign(document.createElement("mark"), { textContent: m[0] }));
      rest = rest.slice(m.index + m[0].length); }
    span.append(rest); return span; };
  if (!found.length) { out.append(Object.assign(document.createElement("p"), { className: "notice", textContent: "没有找到。Nothing found." })); return; }
  const list = Object.assign(document.createElement("ol"), { className: "results" });
  for (const [, p] of found) {
    const item = document.createElement("li"), link = Object.assign(document.createElement("a"), { href: form.dataset.papers + p[0] + "/" });
    link.append(mark(p[2])); link.lang = "en"; item.append(link);
    if (p[3]) item.append(document.createElement("br"), mark(p[3]));
    item.append(document.createElement("br"), Object.assign(mark(p[4]), { className: "authors", lang: "en" }),
      document.createElement("br"), Object.assign(document.createElement("span"), { className: "meta", textContent: p[1] + " · arXiv:" + p[0] + " · " + index.dates[p[5]] }));
    list.append(item);
  }
  out.append(list);
})();
