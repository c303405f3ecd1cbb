"use strict";
/**
 * What-if preload (`node bench/run.js --no-creation-stacks`): replaces cdktf's private
 * captureStackTrace, which every token (attribute reference, output-reference object, Lazy, Fn)
 * calls with an unlimited stack depth, by a no-op. Measures what switching creation stacks off
 * would save (CDK Terrain's CDKTN_DISABLE_CREATION_STACK does this; cdktf 0.21 has no switch).
 * Only token error messages lose their "created at" trace. Never used by the default bench.
 */
require("cdktf/lib/tokens/private/stack-trace").captureStackTrace = () => [];
