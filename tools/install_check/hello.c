/* Lists the devices through the installed library: proves headers, library and the
 * package config work for a consumer. */
#include <stdio.h>

#include <loretta/loretta.h>

int main(void) {
    if (lt_init() != LT_OK) return 1;
    printf("%d devices, first: %s\n", lt_device_count(), lt_device_get(0)->info.name);
    return lt_device_count() > 0 ? 0 : 1;
}
