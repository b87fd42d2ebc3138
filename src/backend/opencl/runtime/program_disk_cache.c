/* On-disk cache of program binaries. File layout (little-endian):
 *   "CPCLBIN1" | key h0 | key h1 | payload size | payload FNV-1a | payload
 * Everything is checked on load; anything off is a BAD entry. */
#include "backend/opencl/runtime/program_disk_cache.h"
#include "clinpaint/files.h"
#include "util/hash.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char MAGIC[8] = {'C', 'P', 'C', 'L', 'B', 'I', 'N', '1'};
#define HEADER_BYTES (8 + 4 * 8)
#define MAX_BINARY_BYTES ((size_t)512 << 20)

static uint64_t hash_str(uint64_t h, const char *s)
{
    /* Length-prefixed so that ("ab","c") and ("a","bc") differ. */
    uint64_t n = strlen(s);
    h = cp_fnv1a64_update(h, &n, sizeof n);
    return cp_fnv1a64_update(h, s, n);
}

cp_cache_key cp_cache_key_make(const cp_device_info *dev, const char *source,
                               size_t source_size, const char *options)
{
    cp_cache_key k;
    for (int i = 0; i < 2; i++) {
        /* Two FNV streams with different bases: a 128-bit key. */
        uint64_t h = i == 0 ? CP_FNV1A64_INIT : 0x84222325cbf29ce4ULL;
        h = hash_str(h, "clinpaint-program-cache-v1");
        h = hash_str(h, dev->platform_name);
        h = hash_str(h, dev->platform_version);
        h = hash_str(h, dev->name);
        h = hash_str(h, dev->driver_version);
        h = hash_str(h, dev->device_version);
        h = cp_fnv1a64_update(h, &source_size, sizeof source_size);
        h = cp_fnv1a64_update(h, source, source_size);
        h = hash_str(h, options ? options : "");
        k.h[i] = h;
    }
    return k;
}

/* Cached binaries run as native code on CPU drivers: the folder is made
 * private (0700), and one that others could write to is not used. */
static bool mkdir_p(const char *path, char *why, size_t why_size)
{
    char tmp[1024];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        snprintf(why, why_size, "the kernel cache folder name is too long");
        return false;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST) break;
            *p = '/';
        }
    }
    if (mkdir(path, 0700) == 0 || errno == EEXIST) return true;
    snprintf(why, why_size, "cannot create the kernel cache folder %s: %s; no disk cache this run",
             path, strerror(errno));
    return false;
}

static bool is_private(const char *dir, char *why, size_t why_size)
{
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(why, why_size, "the kernel cache %s is not a folder; no disk cache this run", dir);
        return false;
    }
    if (sb.st_uid != geteuid()) {
        snprintf(why, why_size,
                 "the kernel cache folder %s belongs to another user (uid %ld); cached kernels run "
                 "as native code, so it is not used (no disk cache this run; set "
                 "CLINPAINT_CACHE_DIR to a folder of your own)",
                 dir, (long)sb.st_uid);
        return false;
    }
    if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(why, why_size,
                 "the kernel cache folder %s is writable by %s (mode %04o); cached kernels run as "
                 "native code, so it is not used (no disk cache this run; fix with: chmod 700 %s)",
                 dir, (sb.st_mode & S_IWOTH) ? "others" : "its group",
                 (unsigned)(sb.st_mode & 0777), dir);
        return false;
    }
    return true;
}

/* The last folder checked and its verdict: checked once, not per program. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_checked[1024];
static bool g_checked_ok;
static char g_problem[1400];

bool cp_cache_dir_usable(const char *dir, char *why, size_t why_size)
{
    if (why_size) why[0] = '\0';
    if (!dir || !*dir) return false;
    if (strlen(dir) >= sizeof g_checked) {
        snprintf(why, why_size, "the kernel cache folder name is too long");
        return false;
    }
    pthread_mutex_lock(&g_lock);
    if (strcmp(g_checked, dir) != 0) {
        char problem[sizeof g_problem];
        g_checked_ok = mkdir_p(dir, problem, sizeof problem) &&
                       is_private(dir, problem, sizeof problem);
        snprintf(g_problem, sizeof g_problem, "%s", g_checked_ok ? "" : problem);
        snprintf(g_checked, sizeof g_checked, "%s", dir);
    }
    bool ok = g_checked_ok;
    if (!ok) snprintf(why, why_size, "%s", g_problem);
    pthread_mutex_unlock(&g_lock);
    return ok;
}

bool cp_cache_dir(const cp_context *ctx, char *dir, size_t size)
{
    const char *configured = cp_context_options_of(ctx)->cache_dir;
    if (!configured || !*configured) return false;
    int n = snprintf(dir, size, "%s", configured);
    if (n < 0 || (size_t)n >= size) return false;
    char why[sizeof g_problem];
    return cp_cache_dir_usable(dir, why, sizeof why);
}

void cp_cache_entry_path(const char *dir, cp_cache_key key, char *path, size_t size)
{
    snprintf(path, size, "%s/%016llx%016llx.clbin", dir,
             (unsigned long long)key.h[0], (unsigned long long)key.h[1]);
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

cp_cache_result cp_cache_load(const char *path, cp_cache_key key,
                              unsigned char **binary, size_t *size)
{
    *binary = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return CP_CACHE_MISS;
    unsigned char hdr[HEADER_BYTES];
    cp_cache_result res = CP_CACHE_BAD;
    unsigned char *data = NULL;
    if (fread(hdr, 1, sizeof hdr, f) != sizeof hdr) goto done;
    if (memcmp(hdr, MAGIC, 8) != 0) goto done;
    if (get_u64(hdr + 8) != key.h[0] || get_u64(hdr + 16) != key.h[1]) goto done;
    uint64_t n = get_u64(hdr + 24), sum = get_u64(hdr + 32);
    if (n == 0 || n > MAX_BINARY_BYTES) goto done;
    data = malloc((size_t)n);
    if (!data) goto done;
    if (fread(data, 1, (size_t)n, f) != n) goto done;
    if (fgetc(f) != EOF) goto done; /* trailing bytes: not ours */
    if (cp_fnv1a64(data, (size_t)n) != sum) goto done;
    *binary = data;
    *size = (size_t)n;
    data = NULL;
    res = CP_CACHE_HIT;
done:
    free(data);
    fclose(f);
    return res;
}

void cp_cache_store(const char *path, cp_cache_key key,
                    const unsigned char *binary, size_t size)
{
    char tmp[1100];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp) return;
    int fd = mkstemp(tmp);
    if (fd < 0) return;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(tmp);
        return;
    }
    unsigned char hdr[HEADER_BYTES];
    memcpy(hdr, MAGIC, 8);
    put_u64(hdr + 8, key.h[0]);
    put_u64(hdr + 16, key.h[1]);
    put_u64(hdr + 24, size);
    put_u64(hdr + 32, cp_fnv1a64(binary, size));
    bool ok = fwrite(hdr, 1, sizeof hdr, f) == sizeof hdr &&
              fwrite(binary, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) unlink(tmp);
}
