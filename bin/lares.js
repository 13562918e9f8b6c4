#!/usr/bin/env node
// The `lares` command. Sources are TypeScript run by Node's built-in type stripping (Node >= 22.18).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(`lares needs Node.js 22.18 or newer (this is ${process.version}). Run it through npx or npm scripts from the checkout, which use the Node.js that "npm ci" installed.`);
  process.exit(2);
}
await import('../src/cli/main.ts');
