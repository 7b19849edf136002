package defense

import _ "embed"

// Script is pow.js, the browser's proof-of-work solver, for pages that
// inline it (app/web).
//
//go:embed pow.js
var Script string
