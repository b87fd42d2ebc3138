/* Device enumeration and selection ("P:D" or a name substring; default:
 * the first GPU, else the first device). */
#include "clinpaint/runtime.h"
#include "backend/opencl/runtime/check.h"
#include "backend/opencl/runtime/context_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clblast_c.h>

static void get_platform_str(cl_platform_id p, cl_platform_info what, char *buf,
                             size_t size)
{
    buf[0] = '\0';
    if (clGetPlatformInfo(p, what, size, buf, NULL) != CL_SUCCESS) buf[0] = '\0';
    buf[size - 1] = '\0';
}

static void get_device_str(cl_device_id d, cl_device_info what, char *buf,
                           size_t size)
{
    buf[0] = '\0';
    if (clGetDeviceInfo(d, what, size, buf, NULL) != CL_SUCCESS) buf[0] = '\0';
    buf[size - 1] = '\0';
}

static bool has_extension(cl_device_id d, const char *ext)
{
    size_t size = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &size) != CL_SUCCESS)
        return false;
    char *buf = malloc(size + 1);
    if (!buf) return false;
    bool found = false;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, size, buf, NULL) == CL_SUCCESS) {
        buf[size] = '\0';
        found = strstr(buf, ext) != NULL;
    }
    free(buf);
    return found;
}

static const char *type_name(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU) return "GPU";
    if (t & CL_DEVICE_TYPE_CPU) return "CPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
    return "other";
}

/* "OpenCL <major>.<minor> ..." (CL_DEVICE_VERSION's required form). */
static bool parse_cl_version(const char *v, int *major, int *minor)
{
    return sscanf(v, "OpenCL %d.%d", major, minor) == 2;
}

/* Our kernels are OpenCL C 1.2 and the runtime calls 1.2 entry points: an
 * older device would build nothing, or fail later and less clearly. */
bool cp_device_version_supported(const char *device_version, char *why, size_t size)
{
    int major = 0, minor = 0;
    if (size) why[0] = '\0';
    if (!parse_cl_version(device_version, &major, &minor)) {
        snprintf(why, size, "device version '%.40s' is not 'OpenCL X.Y'", device_version);
        return false;
    }
    if (major < 1 || (major == 1 && minor < 2)) {
        snprintf(why, size, "OpenCL %d.%d device: clinpaint needs OpenCL 1.2 or later", major,
                 minor);
        return false;
    }
    return true;
}

static void check_supported(cp_device_info *info)
{
    (void)cp_device_version_supported(info->device_version, info->unsupported,
                                      sizeof info->unsupported);
}

static void fill_info(cp_device_info *info, cl_platform_id p, cl_device_id d)
{
    cl_uint u;
    cl_ulong ul;
    size_t sz;
    info->platform = p;
    info->device = d;
    get_platform_str(p, CL_PLATFORM_NAME, info->platform_name, sizeof info->platform_name);
    get_platform_str(p, CL_PLATFORM_VERSION, info->platform_version, sizeof info->platform_version);
    get_device_str(d, CL_DEVICE_NAME, info->name, sizeof info->name);
    get_device_str(d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    get_device_str(d, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    get_device_str(d, CL_DEVICE_VERSION, info->device_version, sizeof info->device_version);
    get_device_str(d, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version,
                   sizeof info->opencl_c_version);
    info->type = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof info->type, &info->type, NULL);
    info->type_name = type_name(info->type);
    u = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof u, &u, NULL);
    info->compute_units = u;
    u = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof u, &u, NULL);
    info->clock_mhz = u;
    ul = 0;
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof ul, &ul, NULL);
    info->global_mem_bytes = ul;
    ul = 0;
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof ul, &ul, NULL);
    info->local_mem_bytes = ul;
    ul = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ul, &ul, NULL);
    info->max_alloc_bytes = ul;
    sz = 1;
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof sz, &sz, NULL);
    info->max_work_group_size = sz ? sz : 1;
    size_t dims[3] = {0, 0, 0};
    cl_uint ndims = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS, sizeof ndims, &ndims, NULL);
    if (ndims >= 3) clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof dims, dims, NULL);
    for (int i = 0; i < 3; i++) /* unknown: no limit beyond the group's */
        info->max_work_item_sizes[i] = dims[i] ? dims[i] : info->max_work_group_size;
    info->fp16 = has_extension(d, "cl_khr_fp16");
    info->fp64 = has_extension(d, "cl_khr_fp64");
    info->is_default = false;
    check_supported(info);
}

cp_status cp_device_list(cp_device_info **devices, int *count)
{
    *devices = NULL;
    *count = 0;
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    if (err == CL_PLATFORM_NOT_FOUND_KHR_CODE || (err == CL_SUCCESS && np == 0))
        return cp_set_error(CP_ERR_NO_DEVICE,
                            "no OpenCL platform found: install an OpenCL driver "
                            "(Debian/Ubuntu: apt-get install pocl-opencl-icd for "
                            "CPUs; GPU vendors' ICDs: mesa-opencl-icd or "
                            "rocm-opencl-runtime for AMD, intel-opencl-icd for "
                            "Intel, nvidia-opencl-icd for NVIDIA)");
    CP_CL_CHECK(err);
    cl_platform_id *plats = calloc(np, sizeof *plats);
    if (!plats) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "device list");
    cp_status st = CP_OK;
    cp_device_info *list = NULL;
    int n = 0, cap = 0, first_gpu = -1, first_supported = -1;
    CP_CL_CHECK_GOTO(clGetPlatformIDs(np, plats, NULL), done);
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        err = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
        if (err == CL_DEVICE_NOT_FOUND || nd == 0) continue;
        CP_CL_CHECK_GOTO(err, done);
        cl_device_id *devs = calloc(nd, sizeof *devs);
        if (!devs) {
            st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "device list");
            goto done;
        }
        err = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL);
        if (err != CL_SUCCESS) {
            free(devs);
            st = cp_cl_fail(err, "clGetDeviceIDs", __FILE__, __LINE__);
            goto done;
        }
        for (cl_uint d = 0; d < nd; d++) {
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                cp_device_info *grown = realloc(list, (size_t)cap * sizeof *list);
                if (!grown) {
                    free(devs);
                    st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "device list");
                    goto done;
                }
                list = grown;
            }
            fill_info(&list[n], plats[p], devs[d]);
            list[n].platform_index = (int)p;
            list[n].device_index = (int)d;
            if (first_supported < 0 && !list[n].unsupported[0]) first_supported = n;
            if (first_gpu < 0 && (list[n].type & CL_DEVICE_TYPE_GPU) && !list[n].unsupported[0])
                first_gpu = n;
            n++;
        }
        free(devs);
    }
    if (n == 0) {
        st = cp_set_error(CP_ERR_NO_DEVICE,
                          "OpenCL platforms are installed but none has a device: "
                          "check the driver (clinfo shows what OpenCL sees)");
        goto done;
    }
    if (first_gpu >= 0) list[first_gpu].is_default = true;
    else if (first_supported >= 0) list[first_supported].is_default = true;
done:
    free(plats);
    if (st != CP_OK) {
        free(list);
        return st;
    }
    *devices = list;
    *count = n;
    return CP_OK;
}

static bool contains_nocase(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < nl && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == nl) return true;
    }
    return nl == 0;
}

/* "P:D" with both parts decimal. */
static bool parse_index_selector(const char *s, int *p, int *d)
{
    char *end;
    long lp = strtol(s, &end, 10);
    if (end == s || *end != ':' || lp < 0) return false;
    const char *ds = end + 1;
    long ld = strtol(ds, &end, 10);
    if (end == ds || *end || ld < 0) return false;
    *p = (int)lp;
    *d = (int)ld;
    return true;
}

cp_status cp_device_select(const char *selector, cp_device_info *out)
{
    return cp_device_select_named(selector, NULL, out);
}

cp_status cp_device_select_named(const char *selector, const char *origin,
                                 cp_device_info *out)
{
    const char *source = origin && *origin ? origin : "--device";
    cp_device_info *list;
    int n;
    CP_TRY(cp_device_list(&list, &n));
    int found = -1;
    if (!selector || !*selector) {
        for (int i = 0; i < n; i++)
            if (list[i].is_default) found = i;
        if (found < 0) {
            free(list);
            return cp_set_error(CP_ERR_UNSUPPORTED,
                                "no supported OpenCL device: every device is below "
                                "OpenCL 1.2 (clinpaint devices shows why)");
        }
    } else {
        int p, d;
        bool by_index = parse_index_selector(selector, &p, &d);
        for (int i = 0; i < n && found < 0; i++) {
            if (by_index ? (list[i].platform_index == p && list[i].device_index == d)
                         : contains_nocase(list[i].name, selector))
                found = i;
        }
    }
    if (found < 0) {
        char msg[2048];
        size_t len = (size_t)snprintf(msg, sizeof msg,
                                      "%s '%s' matches no device; the devices are:",
                                      source, selector);
        for (int i = 0; i < n && len < sizeof msg; i++)
            len += (size_t)snprintf(msg + len, sizeof msg - len, "\n  %d:%d  %s (%s)",
                                    list[i].platform_index, list[i].device_index,
                                    list[i].name, list[i].platform_name);
        free(list);
        return cp_set_error(CP_ERR_NO_DEVICE, "%s", msg);
    }
    if (list[found].unsupported[0]) {
        cp_status st = cp_set_error(CP_ERR_UNSUPPORTED, "device %d:%d %s: %s",
                                    list[found].platform_index, list[found].device_index,
                                    list[found].name, list[found].unsupported);
        free(list);
        return st;
    }
    *out = list[found];
    free(list);
    return CP_OK;
}

const char *cp_version(void) { return CLINPAINT_VERSION; }

void cp_runtime_versions(char *platform, size_t platform_size, char *clblast,
                         size_t clblast_size)
{
    cp_device_info info;
    if (cp_device_select("", &info) == CP_OK)
        snprintf(platform, platform_size, "%s (%s)", info.platform_version,
                 info.platform_name);
    else
        snprintf(platform, platform_size, "none");
    cp_clear_error();
    /* CLBlast's C API has no version query; the header's macros are the
     * version we were built against (Debian packages 1.5.x). */
#if defined(CLBLAST_VERSION_MAJOR)
    snprintf(clblast, clblast_size, "%d.%d.%d", CLBLAST_VERSION_MAJOR,
             CLBLAST_VERSION_MINOR, CLBLAST_VERSION_PATCH);
#else
    snprintf(clblast, clblast_size, "unknown");
#endif
}
