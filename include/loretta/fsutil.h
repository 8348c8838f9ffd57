/* loretta/fsutil.h - small file-system helpers the library and the tools share. */
#ifndef LORETTA_FSUTIL_H
#define LORETTA_FSUTIL_H

#include "loretta/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* mkdir -p: creates `path` and every missing parent (mode 0755). An existing directory is
 * fine; an existing non-directory, or a parent that cannot be made, is LT_ERR_IO naming the
 * component that failed. Output folders such as `out/svl-mnist` start out missing on a
 * fresh checkout, so every command that writes a folder goes through this. */
lt_status lt_mkdir_p(const char *path);

#ifdef __cplusplus
}
#endif

#endif
