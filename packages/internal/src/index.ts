/**
 * Helpers that several published packages share, kept in one place (a private workspace
 * package, never published).
 *
 * Why this shape: each @fa-robust package is installed and versioned on its own, and these
 * helpers are a few lines each, too small to publish and version as a package of their own.
 * So each published package lists this one as a devDependency and its tsup build bundles the
 * functions it imports (`noExternal`), and the packed tarball depends on nothing new. Only
 * plain types (functions, typed arrays) cross this boundary, so no public .d.ts names it.
 * Tests and type checks read the TypeScript source directly.
 */
export { concatTyped } from './arrays.js';
export { mulberry32, shuffleInPlace } from './random.js';
