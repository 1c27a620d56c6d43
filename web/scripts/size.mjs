// The initial route's JavaScript, gzipped: what a first visit to /app/ (the Dashboard) downloads before it can
// draw - the entry chunk, the Dashboard's lazy chunk, and every chunk they import statically. Budget 200 kB
// (issue 15); over it, the build fails.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGET_KB = 200;
const dist = new URL("../dist/", import.meta.url);
const manifest = JSON.parse(readFileSync(new URL(".vite/manifest.json", dist), "utf8"));

function closure(keys, seen = new Set()) {
  for (const key of keys) {
    if (seen.has(key)) continue;
    seen.add(key);
    closure(manifest[key].imports ?? [], seen);
  }
  return seen;
}

const gz = (file) => gzipSync(readFileSync(new URL(file, dist)), { level: 9 }).length / 1000;
const route = (page) => closure(["index.html", page]);
const report = {};
for (const page of ["src/pages/Dashboard.tsx", "src/pages/Offers.tsx", "src/pages/OfferDetail.tsx"]) {
  report[page] = [...route(page)].reduce((kb, key) => kb + gz(manifest[key].file), 0);
}
const initial = report["src/pages/Dashboard.tsx"];
for (const [page, kb] of Object.entries(report)) console.log(`route JS (gzip) ${page}: ${kb.toFixed(1)} kB`);
console.log(`initial route (/app/, the Dashboard) JS gzipped: ${initial.toFixed(1)} kB (budget ${BUDGET_KB} kB)`);
if (initial > BUDGET_KB) {
  console.error(`the initial route's JavaScript is over its budget of ${BUDGET_KB} kB`);
  process.exit(1);
}
