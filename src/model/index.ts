/**
 * The language-model consumer (issue 13): a GPT-style transformer in TensorFlow.js trained online on
 * compact traces, with its backend choice, optimizer, packing, checkpoints, evaluation and metrics.
 */
export { BYTE_TOKENIZER, tokenizeRun, encodeText, type TokenizerSpec, type TokenizedRun } from './tokenizer.js';
export { Transformer, type ModelConfig, type ModelConfigInput, type EmbeddingMode, type ModelKernels } from './transformer.js';
export { AdamW, learningRateAt, optimizerConfigSchema, type OptimizerConfig, type OptimizerConfigInput, type StepReport } from './optimizer.js';
export { BatchPacker, SequencePacker, type BatchPackerState, type PackedBatch, type PackerState } from './packing.js';
export { trainOnBatch, type StepResult, type TokenLossSums } from './step.js';
export { greedyContinue, greedyRecords, type GreedyOptions } from './decoding.js';
export {
  evaluate, DEFAULT_EVALUATION_OPTIONS,
  type EvaluationRun, type EvaluationResult, type EvaluationOptions, type StateAccuracy, type TraceRecord,
} from './evaluation.js';
export { loadCheckpoint, openModel, type CheckpointMeta, type TrainerState, type LoadedCheckpoint, type PartitionOffsets } from './checkpoint.js';
export { BACKENDS, chooseBackend, describeBackend, parseBackendName, type BackendName, type ChosenBackend } from './backend.js';
export { registerModelGauges, appendMetricsHistory, readMetricsHistory, type ModelGauges } from './metrics.js';
export { OnlineTrainer, type TrainerOptions, type ConsumedRun, type RunDisposition } from './trainer.js';
export { plotTrainingCurves } from './plot.js';
export { imitate, renderImitation, type Imitation } from './imitate.js';
