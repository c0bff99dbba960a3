/** Writes `.env.example` from the variable table (`npm run gen:env`). */
import { writeFileSync } from 'node:fs';
import { renderEnvExample } from '../src/config/env-example.js';

writeFileSync(new URL('../.env.example', import.meta.url), renderEnvExample());
