/**
 * The store as its callers get it: each method's errors, thrown or rejected, go through the
 * backend's one translation of driver errors (`translate`), with the method's name as the
 * operation, so no raw driver error reaches the coordinator. Both backends wrap their store with it.
 */
export function translatingEntryPoints<S extends object>(
  store: S,
  translate: (err: unknown, operation: string) => unknown,
): S {
  const wrapped = new WeakMap<object, unknown>();
  return new Proxy(store, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== 'function' || typeof key !== 'string') return value;
      let entry = wrapped.get(value);
      if (entry === undefined) {
        const method = value as (...args: unknown[]) => unknown;
        entry = (...args: unknown[]): unknown => {
          let out: unknown;
          try {
            out = method.apply(target, args);
          } catch (err) {
            throw translate(err, key);
          }
          return out instanceof Promise
            ? out.catch((err: unknown) => {
                throw translate(err, key);
              })
            : out;
        };
        wrapped.set(value, entry);
      }
      return entry;
    },
  });
}
