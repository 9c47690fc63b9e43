/**
 * The few WebAssembly JS API types the runtime uses. TypeScript declares `WebAssembly` only in
 * lib.dom, which this Node project does not load, and @types/node 20 does not declare it either;
 * declaring it globally here could clash with a lib added later, so this module types the global
 * locally instead.
 */

/** A WebAssembly.Memory; `shared: true` memories have a SharedArrayBuffer as `buffer`. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(deltaPages: number): number;
}

/** A compiled WebAssembly.Module (opaque here). */
export interface WasmModule {
  readonly __wasmModule?: never;
}

/** A WebAssembly.Instance. */
export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

interface WasmNamespace {
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance;
  compile(bytes: Uint8Array): Promise<WasmModule>;
}

/** The global WebAssembly namespace, typed by this module. */
export const Wasm: WasmNamespace = (globalThis as unknown as { WebAssembly: WasmNamespace }).WebAssembly;

/** Whether `x` is a WebAssembly.Memory. */
export function isWasmMemory(x: unknown): x is WasmMemory {
  return x instanceof (Wasm.Memory as unknown as new () => object);
}
