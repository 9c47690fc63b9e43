/**
 * A recording view of a packed state: a Proxy over the Uint32Array that notes every word the code
 * running against it reads and writes (steps index `w.m` directly; a few hardware helpers clear
 * ranges with `fill`). Trace recording and footprint tests only: the proxy is slow, and never on
 * the checker's or the simulator's hot path.
 */
export interface Recording {
  readonly reads: Set<number>;
  readonly writes: Set<number>;
}

/** Thrown when the code under the view uses a typed-array method the view does not record. */
export class UnrecordedAccess extends Error {}

export function recordingView(s: Uint32Array): { view: Uint32Array; rec: Recording } {
  const rec: Recording = { reads: new Set(), writes: new Set() };
  const view = new Proxy(s, {
    get(t, prop) {
      if (typeof prop === 'string' && /^\d+$/.test(prop)) {
        rec.reads.add(Number(prop));
        return t[Number(prop)];
      }
      if (prop === 'fill') {
        return (v: number, from = 0, to = t.length) => {
          for (let k = from; k < to; k++) rec.writes.add(k);
          t.fill(v, from, to);
          return view;
        };
      }
      if (prop === 'length') return t.length;
      const f = Reflect.get(t, prop);
      if (typeof f === 'function')
        throw new UnrecordedAccess(`recordingView: Uint32Array.${String(prop)} is not recorded`);
      return f;
    },
    set(t, prop, value) {
      if (typeof prop === 'string' && /^\d+$/.test(prop)) {
        rec.writes.add(Number(prop));
        t[Number(prop)] = value;
        return true;
      }
      return Reflect.set(t, prop, value);
    },
  });
  return { view, rec };
}
