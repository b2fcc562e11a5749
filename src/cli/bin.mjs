#!/usr/bin/env node
// The bin is bin.cjs (package.json); this name, which docs and scripts gave before, runs it too
// (at the cost of Node's ES module loader, which bin.cjs exists to avoid).
import './bin.cjs';
