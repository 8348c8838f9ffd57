/* apps/cmd_devices.c - `loretta devices`: every device of every compiled-in backend. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

int lt_cmd_devices(int argc, char **argv) {
    lt_common_opts o;
    if (lt_parse_common(&argc, argv, &o)) return 2;
    lt_init();
    printf("%-3s %-8s %-56s %12s %5s  %s\n", "#", "backend", "name", "memory", "units", "notes");
    for (int i = 0; i < lt_device_count(); i++) {
        const lt_device *d = lt_device_get(i);
        if (o.backend && strcmp(o.backend, d->backend->name) != 0) continue;
        printf("%-3d %-8s %-56.56s %9.1f GiB %5d  %s%s%s%s\n", i, d->backend->name, d->info.name,
               (double)d->info.memory_bytes / (1 << 30), d->info.compute_units,
               d->info.is_reference ? "reference " : "", d->info.supports_f64 ? "f64 " : "",
               d->info.supports_bf16 ? "bf16 " : "", d->info.supports_f16 ? "f16" : "");
    }
    const char *names[] = {"cpu", "ref", "opencl", "vulkan", "cuda"};
    for (int i = 0; i < 5; i++) {
        const char *note = lt_backend_note(names[i]);
        if (*note) printf("note: %s: %s\n", names[i], note);
    }
    printf("built with: %s\n", lt_build_backends());
    if (*lt_build_skipped()) printf("skipped at build time: %s\n", lt_build_skipped());
    return 0;
}
