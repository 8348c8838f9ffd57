/* tests/support/fake_device.h - the reference device under another backend name, whose
 * ops a test then replaces with deliberately wrong ones: how the conformance tests prove
 * that each kind of failure is caught. */
#ifndef LT_TEST_FAKE_DEVICE_H
#define LT_TEST_FAKE_DEVICE_H

#include "loretta/backend.h"

/* *be = the ref backend's table named `name`; *dev = the reference device running it,
 * reporting `name`, not marked as the reference, with nothing allocated. 0 on success,
 * -1 when there is no reference device (a cmocka setup's failure value). */
int lt_test_fake_device(const char *name, lt_backend *be, lt_device *dev);

#endif
