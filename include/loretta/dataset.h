/* loretta/dataset.h - the multimodal dataset file (".ltds"): samples of one or more
 * modalities of the same subject, each with a class label.
 *
 * Layout (all integers little-endian; docs/dataset-format.md has the full table):
 *   header (64 bytes): magic "LTDSET\r\n", version, modality count, sample count,
 *                      offsets of the data, modality table and index, checksum
 *   data:             token arrays, u16 each (modality-local values 0..levels-1)
 *   modality table:   per modality: name, levels, max length, fixed-length flag
 *   index:            per sample: label, presence mask, per modality (offset, length)
 * The checksum is FNV-1a 64 over data, table and index in that order. Readers memory-map
 * the file, check every offset and length against the file size and verify the checksum
 * before trusting anything. Writers write a temporary file and rename it. */
#ifndef LORETTA_DATASET_H
#define LORETTA_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "loretta/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LT_DS_MAX_MODALITIES 16
#define LT_DS_NAME_LEN 16

typedef struct lt_ds_modality {
    char name[LT_DS_NAME_LEN]; /* "image", "text", "audio" (NUL-terminated) */
    uint32_t levels;           /* token values are 0..levels-1 */
    uint32_t max_len;          /* longest array of this modality */
    uint32_t fixed_len;        /* 1: every array has exactly max_len tokens */
} lt_ds_modality;

typedef struct lt_ds_sample {
    int32_t label;
    uint32_t mask; /* bit m set = modality m present */
    const uint16_t *tokens[LT_DS_MAX_MODALITIES]; /* NULL where absent */
    uint32_t len[LT_DS_MAX_MODALITIES];
} lt_ds_sample;

typedef struct lt_dataset lt_dataset;

/* Opens and verifies a dataset (magic, version, sizes, offsets, checksum, every token
 * within its modality's levels). Errors name the file, the offset and the field. */
lt_status lt_dataset_open(const char *path, lt_dataset **out);
void lt_dataset_close(lt_dataset *ds);
uint64_t lt_dataset_size(const lt_dataset *ds);
int lt_dataset_modality_count(const lt_dataset *ds);
const lt_ds_modality *lt_dataset_modality(const lt_dataset *ds, int m);
/* Index of the modality with this name, or -1. */
int lt_dataset_find_modality(const lt_dataset *ds, const char *name);
const char *lt_dataset_path(const lt_dataset *ds);
/* Random access; the token pointers stay valid until lt_dataset_close. */
lt_status lt_dataset_get(const lt_dataset *ds, uint64_t index, lt_ds_sample *out);

typedef struct lt_dataset_writer lt_dataset_writer;

lt_status lt_dataset_writer_open(const char *path, const lt_ds_modality *mods, int n_mod,
                                 lt_dataset_writer **out);
/* Adds one sample: tokens[m]/len[m] for each modality in mask (others ignored).
 * Checks every value against the modality's levels and length limits. */
lt_status lt_dataset_writer_add(lt_dataset_writer *w, int32_t label, uint32_t mask,
                                const uint16_t *const *tokens, const uint32_t *len);
/* Writes table, index and header, then renames the temporary file into place. */
lt_status lt_dataset_writer_close(lt_dataset_writer *w);
/* Discards a half-written dataset (the temporary file is removed). */
void lt_dataset_writer_abort(lt_dataset_writer *w);

#ifdef __cplusplus
}
#endif
#endif
