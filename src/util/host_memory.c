/* Host memory available to this process now (MemAvailable, else the
 * available physical pages), 0 when unknown. */
#include "clinpaint/train.h"

#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

uint64_t cp_host_memory_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        unsigned long long kb = 0;
        bool found = false;
        while (!found && fgets(line, sizeof line, f))
            found = sscanf(line, "MemAvailable: %llu kB", &kb) == 1;
        fclose(f); /* read-only: nothing to flush */
        if (found) return (uint64_t)kb * 1024;
    }
#ifdef _SC_AVPHYS_PAGES
    long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    if (pages > 0 && size > 0) return (uint64_t)pages * (uint64_t)size;
#endif
    return 0; /* unknown */
}
