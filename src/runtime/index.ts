/**
 * irqlab runtime: a posted-interrupt channel between worker threads (SharedArrayBuffer +
 * Atomics), with the PIR harvest algorithms of seed 000 on a JS and a WebAssembly kernel.
 * See docs/runtime.md.
 */
export {
  PiChannel,
  type PiChannelBufferOptions,
  PiChannelClosedError,
  type PiChannelCreateOptions,
  type PiChannelHandle,
  type PiChannelSnapshot,
  type PiResumeOptions,
} from './channel.ts';
export {
  DEFAULT_COALESCING_LOOPS,
  DEFAULT_HARVEST_ALGORITHM,
  PiConsumer,
  type PiConsumerOptions,
  type PiConsumerStats,
  type PiHandler,
  type PiWaitResult,
} from './consumer.ts';
export {
  checkHarvestAlgorithm,
  checkHarvestKernel,
  createPirHarvester,
  HARVEST_ALGORITHMS,
  HARVEST_KERNELS,
  type HarvestAlgorithm,
  type HarvestKernel,
  type HarvestWasmExports,
  harvestLoads,
  harvestU32Interleaved,
  harvestU64LoadsThenXchg,
  harvestWasm,
  harvestWasmModule,
  type PirHarvester,
  popcount32,
} from './harvest.ts';
export {
  CTRL_CLOSED,
  CTRL_ON,
  CTRL_SN,
  NR_VECTORS,
  OFF_CONTROL,
  OFF_COUNTERS,
  OFF_PIR,
  OFF_SCRATCH,
  PI_ALIGN,
  PI_BYTES,
  PI_BYTES_WITH_COUNTERS,
  piChannelBytes,
} from './layout.ts';
export { startTsWorker, tsWorkerData } from './ts-worker.ts';
export { isWasmMemory, Wasm, type WasmInstance, type WasmMemory, type WasmModule } from './wasm-api.ts';
