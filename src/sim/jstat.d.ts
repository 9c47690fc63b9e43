/** The part of jstat 1.9.6 (no bundled types) that src/sim/stats.ts uses. */
declare module 'jstat' {
  interface StudentT {
    /** The p-quantile of Student's t with dof degrees of freedom. */
    inv(p: number, dof: number): number;
    cdf(x: number, dof: number): number;
  }
  const jStat: { studentt: StudentT };
  export default jStat;
}
