// "Cite this chapter" (_ext/gdlinalg_citation.py): the page is built with the build date as the
// access date; replace it by today's date, so that a copied reference says when it was accessed.
document.addEventListener("DOMContentLoaded", () => {
  const pad = (n) => String(n).padStart(2, "0");
  const now = new Date();
  const today = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
  document.querySelectorAll("section.gdl-citation").forEach((block) => {
    const cls = [...block.classList].find((c) => c.startsWith("gdl-built-"));
    const built = cls && cls.slice("gdl-built-".length);
    if (!built || built === today) return;
    const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.nodeValue.includes(built)) node.nodeValue = node.nodeValue.split(built).join(today);
    }
  });
});
