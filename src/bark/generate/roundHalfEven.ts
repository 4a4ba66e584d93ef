/**
 * Python 3's `round(x)`: nearest integer, ties to even. Bark's coarse stage
 * computes window starts and history lengths with it, and JavaScript's
 * `Math.round` (ties toward +∞) would differ on exact .5 values.
 *
 * @since 0.1.0
 */
export const roundHalfEven = (x: number): number => {
  const r = Math.round(x)
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r
}
