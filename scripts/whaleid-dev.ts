// Runs the CLI from the TypeScript sources (no build step), for development: `npx tsx scripts/whaleid-dev.ts <args>`.
import { main } from '../src/cli/main.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});
