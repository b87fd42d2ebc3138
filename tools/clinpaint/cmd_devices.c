/* clinpaint devices: every OpenCL platform and device, as a table or JSON;
 * --check runs a small kernel and a CLBlast SGEMM on the selected device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_util.h"
#include "commands.h"
#include "env_options.h"
#include "clinpaint/clinpaint.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: clinpaint devices [--json] [--check] [--device SEL]\n\n"
               "Lists every OpenCL platform and device. '*' marks the default device\n"
               "(the first GPU, else the first device; CLINPAINT_DEVICE overrides).\n\n"
               "  --json        machine-readable output\n"
               "  --check       run a small kernel and a CLBlast SGEMM on the selected\n"
               "                device and compare with the host\n"
               "  --device SEL  the device for --check: P:D, or part of its name\n");
}

static void human_bytes(uint64_t b, char *buf, size_t size)
{
    if (b >= (1ull << 30))
        snprintf(buf, size, "%.1f GiB", (double)b / (double)(1ull << 30));
    else if (b >= (1ull << 20))
        snprintf(buf, size, "%.1f MiB", (double)b / (double)(1ull << 20));
    else
        snprintf(buf, size, "%.0f KiB", (double)b / 1024.0);
}

static void print_table(const cp_device_info *d, int n)
{
    for (int i = 0; i < n; i++) {
        char gmem[32], lmem[32], amem[32];
        human_bytes(d[i].global_mem_bytes, gmem, sizeof gmem);
        human_bytes(d[i].local_mem_bytes, lmem, sizeof lmem);
        human_bytes(d[i].max_alloc_bytes, amem, sizeof amem);
        printf("%s %d:%d  %s\n", d[i].is_default ? "*" : " ", d[i].platform_index,
               d[i].device_index, d[i].name);
        printf("      platform      %s (%s)\n", d[i].platform_name, d[i].platform_version);
        printf("      vendor        %s\n", d[i].vendor);
        printf("      type          %s\n", d[i].type_name);
        printf("      driver        %s\n", d[i].driver_version);
        printf("      OpenCL C      %s\n", d[i].opencl_c_version);
        printf("      compute units %u at %u MHz\n", d[i].compute_units, d[i].clock_mhz);
        printf("      memory        %s global (largest buffer %s), %s local\n", gmem,
               amem, lmem);
        printf("      work-group    up to %zu\n", d[i].max_work_group_size);
        printf("      fp16 / fp64   %s / %s\n", d[i].fp16 ? "yes" : "no",
               d[i].fp64 ? "yes" : "no");
        if (d[i].unsupported[0]) printf("      NOT USABLE    %s\n", d[i].unsupported);
    }
}

static int print_json(const cp_device_info *d, int n)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "devices");
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        char sel[32];
        snprintf(sel, sizeof sel, "%d:%d", d[i].platform_index, d[i].device_index);
        cJSON_AddStringToObject(o, "id", sel);
        cJSON_AddStringToObject(o, "name", d[i].name);
        cJSON_AddStringToObject(o, "vendor", d[i].vendor);
        cJSON_AddStringToObject(o, "type", d[i].type_name);
        cJSON_AddStringToObject(o, "platform", d[i].platform_name);
        cJSON_AddStringToObject(o, "platform_version", d[i].platform_version);
        cJSON_AddStringToObject(o, "driver_version", d[i].driver_version);
        cJSON_AddStringToObject(o, "opencl_c_version", d[i].opencl_c_version);
        cJSON_AddNumberToObject(o, "compute_units", d[i].compute_units);
        cJSON_AddNumberToObject(o, "clock_mhz", d[i].clock_mhz);
        cJSON_AddNumberToObject(o, "global_mem_bytes", (double)d[i].global_mem_bytes);
        cJSON_AddNumberToObject(o, "local_mem_bytes", (double)d[i].local_mem_bytes);
        cJSON_AddNumberToObject(o, "max_alloc_bytes", (double)d[i].max_alloc_bytes);
        cJSON_AddNumberToObject(o, "max_work_group_size", (double)d[i].max_work_group_size);
        cJSON_AddBoolToObject(o, "fp16", d[i].fp16);
        cJSON_AddBoolToObject(o, "fp64", d[i].fp64);
        cJSON_AddBoolToObject(o, "default", d[i].is_default);
        if (d[i].unsupported[0]) cJSON_AddStringToObject(o, "unsupported", d[i].unsupported);
        cJSON_AddItemToArray(arr, o);
    }
    char *text = cJSON_Print(root);
    int rc = text ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    if (text) printf("%s\n", text);
    free(text);
    cJSON_Delete(root);
    return rc;
}

static int run_check(const char *selector)
{
    cp_context *ctx;
    cp_status st = env_context_create(selector, &ctx);
    if (st != CP_OK) return cli_fail("devices", st);
    const cp_device_info *d = cp_context_device(ctx);
    printf("checking %d:%d %s ... ", d->platform_index, d->device_index, d->name);
    fflush(stdout);
    st = cp_context_self_check(ctx);
    cp_context_free(ctx);
    if (st != CP_OK) {
        printf("FAILED\n");
        return cli_fail("devices", st);
    }
    printf("ok (kernel and CLBlast SGEMM match the host)\n");
    return CLI_EXIT_OK;
}

int cmd_devices(int argc, char **argv)
{
    bool json = false, check = false;
    const char *selector = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--check") == 0) {
            check = true;
        } else if (strcmp(argv[i], "--device") == 0) {
            if (++i >= argc) return cli_usage_error("devices", "--device needs a value");
            selector = argv[i];
        } else {
            return cli_usage_error("devices", "unknown option '%s'", argv[i]);
        }
    }
    cp_device_info *list;
    int n;
    cp_status st = cp_device_list(&list, &n);
    if (st != CP_OK) return cli_fail("devices", st);
    int rc = json ? print_json(list, n) : (print_table(list, n), CLI_EXIT_OK);
    free(list);
    if (rc == CLI_EXIT_OK && check) rc = run_check(selector);
    return rc;
}
