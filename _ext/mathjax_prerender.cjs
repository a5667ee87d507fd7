// Typeset TeX as MathJax CommonHTML at build time (_ext/light_pages.py), with the MathJax 3 that
// `npm ci` installs, so that pages need no MathJax JavaScript (1.16 MB) in the browser.
//
//   node _ext/mathjax_prerender.cjs <mathjax es5 dir> <fontURL> < in.json > out.json
//
// in.json: [{"tex": "...", "display": true|false}, ...]
// out.json: {"html": ["<mjx-container ...>", ...], "css": "...", "errors": [[index, message], ...]}
//
// The output is what MathJax's tex-chtml component produces in the browser (TeX input with the
// same packages and autoloading, CHTML output, assistive MathML for screen readers), minus the
// context menu; the font size that MathJax measures in the browser (matchFontHeight) is set by a
// CSS rule in light_pages.py instead.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const [es5, fontURL] = process.argv.slice(2);
const items = JSON.parse(fs.readFileSync(0, "utf8"));
const errors = [];
let current = -1;

global.MathJax = {
  loader: {
    paths: { mathjax: path.resolve(es5) },
    load: ["adaptors/liteDOM", "input/tex", "output/chtml", "a11y/assistive-mml"],
    require: require,
  },
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    formatError: (jax, err) => {
      errors.push([current, err.message]);
      return jax.formatError(err);
    },
  },
  chtml: { fontURL, adaptiveCSS: true, matchFontHeight: false },
  startup: { typeset: false },
};

require(path.resolve(es5, "startup.js"));

MathJax.startup.promise
  .then(async () => {
    const adaptor = MathJax.startup.adaptor;
    const html = [];
    // One at a time, with the promise form: a formula may autoload a TeX extension (\cancel, ...).
    for (const [i, item] of items.entries()) {
      current = i;
      const node = await MathJax.tex2chtmlPromise(item.tex, { display: Boolean(item.display) });
      html.push(adaptor.outerHTML(node));
    }
    const css = adaptor.textContent(MathJax.chtmlStylesheet());
    process.stdout.write(JSON.stringify({ html, css, errors }));
  })
  .catch((err) => {
    console.error(err && err.stack ? err.stack : String(err));
    process.exit(1);
  });
