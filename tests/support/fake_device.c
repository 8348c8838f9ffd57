/* tests/support/fake_device.c - see fake_device.h. */
#include "support/fake_device.h"

#include <stdio.h>

#include "loretta/conformance.h"

int lt_test_fake_device(const char *name, lt_backend *be, lt_device *dev) {
    lt_device *ref = NULL;
    if (lt_conf_reference(&ref) != LT_OK) return -1;
    *be = *lt_backend_ref_get();
    be->name = name;
    *dev = *ref;
    dev->backend = be;
    dev->bytes_in_use = 0;
    dev->info.is_reference = 0;
    snprintf(dev->info.backend_name, sizeof dev->info.backend_name, "%s", name);
    return 0;
}
