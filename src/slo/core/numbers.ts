/** 1 − 0.95 is 0.050000000000000044 in floating point; PromQL readers deserve 0.05. */
export const tidy = (n: number) => Number(n.toPrecision(12));
