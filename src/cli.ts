// `gasper`: compiled to dist/cli.js (npm run build), which bin/gasper.js runs.
import { buildProgram } from './program.ts';

await buildProgram().parseAsync();
