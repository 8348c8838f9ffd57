/* loretta/checkpoint.h - trainer checkpoints in the safetensors format.
 *
 * The file is plain safetensors (8-byte little-endian header length, a JSON header
 * naming each tensor's dtype, shape and data_offsets, then the bytes), so the Python
 * `safetensors` package and PyTorch read the weights as they are. Weights keep the
 * PyTorch baseline's state_dict names; the AdamW moments are stored as "optim.m.<name>"
 * and "optim.v.<name>". The "__metadata__" strings hold our format version, the model
 * config (JSON), the optimiser hyper-parameters (JSON), the step counters, the data
 * position and the data RNG state. docs/checkpoint-format.md has the details.
 *
 * Saving writes a temporary file in the same directory, fsyncs it and renames it over
 * the target, so an interrupted save never leaves a half-written checkpoint. Loading
 * checks every header field against the file size before reading data and reports the
 * file, the offset and the field of any problem; it changes nothing (neither the file
 * nor the trainer) when it fails. The data are host bytes: a checkpoint written on one
 * backend loads on any other. */
#ifndef LORETTA_CHECKPOINT_H
#define LORETTA_CHECKPOINT_H

#include "loretta/train.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LT_CHECKPOINT_FORMAT "loretta.checkpoint"
#define LT_CHECKPOINT_VERSION 1

lt_status lt_checkpoint_save(const lt_trainer *t, const char *path);

/* Reads the model config and optimiser settings of a checkpoint (header only). */
lt_status lt_checkpoint_read_config(const char *path, lt_model_config *mc, lt_train_config *tc);

/* Creates a trainer on `dev` from a checkpoint: config, optimiser settings, weights,
 * moments and counters. Needs cJSON (UNSUPPORTED otherwise). */
lt_status lt_checkpoint_load(const char *path, lt_device *dev, int max_B, int max_T,
                             lt_trainer **out);
/* Loads a checkpoint into an existing trainer whose model config matches. */
lt_status lt_checkpoint_restore(lt_trainer *t, const char *path);

#ifdef __cplusplus
}
#endif
#endif
