import { CHART_NAMES, exportCharts, writeCharts, type ChartName } from '../../charts/export.js';
import { parseArgs } from 'node:util';
import { parsing } from '../args.js';
import { UsageError, type Output } from '../output.js';

/** `resilient-stream charts --help`. */
export const CHARTS_HELP = `Usage: resilient-stream charts [--format mermaid|json] [--chart NAME] [--out DIR]

Exports the statecharts, generated from the machines themselves (never hand-drawn).

Options:
  --format F     mermaid (stateDiagram-v2, default) or json; stdout only
  --chart NAME   one of ${CHART_NAMES.join(', ')} (default: all)
  --out DIR      write <chart>.mmd, <chart>.json and README.md into DIR instead of printing
                 (those files only: nothing else in DIR or around it is touched)
  -h, --help     this help`;

/** Runs `resilient-stream charts`. */
export async function chartsCommand(argv: readonly string[], out: Output): Promise<number> {
  const { values } = parsing('charts', () => parseArgs({ args: [...argv], strict: true, allowPositionals: false, options: {
    format: { type: 'string' },
    chart: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  } }));
  if (values.help) {
    out.result(CHARTS_HELP);
    return 0;
  }
  const format = values.format ?? 'mermaid';
  if (format !== 'mermaid' && format !== 'json') throw new UsageError(`--format must be mermaid or json, got ${JSON.stringify(format)}`);
  if (values.chart !== undefined && !(CHART_NAMES as readonly string[]).includes(values.chart)) {
    throw new UsageError(`--chart must be one of ${CHART_NAMES.join(', ')}, got ${JSON.stringify(values.chart)}`);
  }
  if (values.out !== undefined) {
    const written = await writeCharts(values.out);
    for (const file of written) out.progress(`wrote ${file}`);
    return 0;
  }
  const charts = exportCharts();
  const names = values.chart ? [values.chart as ChartName] : [...CHART_NAMES];
  for (const name of names) {
    const chart = charts[name];
    out.result(format === 'json' ? JSON.stringify(chart.json, null, 2) : chart.mermaid);
  }
  return 0;
}
