/**
 * Regenerates docs/charts from the machines, and the classification table inside
 * docs/design.md from machines/classify.ts:
 *
 *   node --import tsx src/charts/write.ts [dir]        (dir defaults to docs/charts)
 *
 * `npm run docs:charts` runs it. The CLI's `charts --out <dir>` writes only the chart files: a user's
 * project has its own docs/design.md.
 */
import { updateDesignTable } from './classification.js';
import { writeCharts } from './export.js';

const dir = process.argv[2] ?? 'docs/charts';
for (const path of await writeCharts(dir)) console.log(`wrote ${path}`);
if (await updateDesignTable('docs/design.md')) console.log('updated the classification table in docs/design.md');
