"use strict";
/** Case (e): `require()` of the compiled library alone (dist/lib), nothing else, in a fresh process. */
const path = require("node:path");
const { ROOT, mark, report } = require("./common");

mark("start");
const before = performance.now();
const lib = require(path.join(ROOT, "dist", "lib"));
const requireMs = performance.now() - before;
mark("required");
report({ requireMs, exports: Object.keys(lib).length });
