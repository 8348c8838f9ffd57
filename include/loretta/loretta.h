/* loretta/loretta.h - the whole public API. */
#ifndef LORETTA_H
#define LORETTA_H

#include "loretta/backend.h"
#include "loretta/fsutil.h"
#include "loretta/ops.h"
#include "loretta/rng.h"
#include "loretta/status.h"
#include "loretta/tensor.h"
#include "loretta/tokenize.h"

#endif
