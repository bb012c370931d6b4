/** Cell formats of the scaling report (units in the cell, so the table stays narrow). */
export const percent = (x: number, digits = 2): string => `${(100 * x).toFixed(digits)} %`;

export const seconds = (x: number): string =>
  !Number.isFinite(x) ? '∞' : x < 10 ? `${x.toFixed(2)} s` : x < 600 ? `${x.toFixed(0)} s` : `${(x / 60).toFixed(0)} min`;
