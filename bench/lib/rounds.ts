/**
 * Alternating rounds: the answer to a shared, noisy machine. Lanyard (A) and its baseline (B)
 * run back to back in short rounds, A B, B A, A B… (the order flips each round so a steady
 * drift in background load does not always favour the side that runs second). Every round
 * gives one ratio A ÷ B measured seconds apart under nearly the same load; the line reports the
 * median of those ratios with their min–max. The warm-up rounds of each side (one unless a line
 * asks for more) are not counted.
 */
export interface Sample {
  /** The figure the ratio is taken of (req/s, logins/s, ms…). */
  value: number;
  /** What the report prints for this side (e.g. latencies). */
  detail?: string;
  errors?: number;
}

export interface RoundsResult {
  ratios: number[];
  median: number;
  min: number;
  max: number;
  a: Sample[];
  b: Sample[];
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/**
 * Runs `warmups` uncounted rounds, then `rounds` counted ones, alternating the two sides.
 * Several baselines may share one A run: pass them all in `bs`, each gets its own ratios.
 */
export async function alternate(
  a: () => Promise<Sample>,
  bs: Array<() => Promise<Sample>>,
  options: { rounds: number; warmups?: number },
): Promise<RoundsResult[]> {
  const warmups = options.warmups ?? 1;
  const as: Sample[] = [];
  const bSamples: Sample[][] = bs.map(() => []);
  for (let round = -warmups; round < options.rounds; round++) {
    const flip = round % 2 !== 0;
    let sampleA: Sample | undefined;
    const sampleB: Sample[] = [];
    if (!flip) sampleA = await a();
    for (const b of bs) sampleB.push(await b());
    if (flip) sampleA = await a();
    if (round < 0) continue;
    as.push(sampleA!);
    sampleB.forEach((s, i) => bSamples[i]!.push(s));
  }
  return bSamples.map((b) => {
    const ratios = as.map((s, i) => s.value / b[i]!.value);
    return { ratios, median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), a: as, b };
  });
}

/**
 * Median of one side's figures and the errors summed over the rounds, for the report's text,
 * with the detail (latencies…) of the middle round by that figure: the median round itself when
 * the count is odd, the lower of the two middle ones when it is even.
 */
export function sideSummary(samples: Sample[], unit: (v: number) => string): string {
  const errors = samples.reduce((sum, s) => sum + (s.errors ?? 0), 0);
  const middle = [...samples].sort((x, y) => x.value - y.value)[Math.floor((samples.length - 1) / 2)];
  const detail = middle?.detail;
  const middleValue = median(samples.map((s) => s.value));
  return `${unit(middleValue)} (median of ${samples.length}${detail ? `; middle round: ${detail}` : ''})${errors ? `, ${errors} errors` : ''}`;
}

/** The fields of a report line that come from rounds: median ratio, min–max, every round. */
export function ratioOf(result: RoundsResult): { ratio: number; range: [number, number]; rounds: number[] } {
  return { ratio: result.median, range: [result.min, result.max], rounds: result.ratios.map((r) => Math.round(r * 1000) / 1000) };
}
