/**
 * Loaded with `node --import` into a child process to skew its clock: Date.now() (and new Date())
 * run CNS_TEST_CLOCK_SKEW_MS ahead (or behind, when negative) of the real time.
 */
const skew = Number(process.env.CNS_TEST_CLOCK_SKEW_MS ?? 0);
const realNow = Date.now.bind(Date);
const RealDate = Date;
class SkewedDate extends RealDate {
  constructor(...args: unknown[]) {
    if (args.length === 0) super(realNow() + skew);
    else super(...(args as [string]));
  }
  static override now(): number {
    return realNow() + skew;
  }
}
globalThis.Date = SkewedDate as DateConstructor;
