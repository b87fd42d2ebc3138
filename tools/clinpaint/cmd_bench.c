/* clinpaint bench: device ceilings (SGEMM, copy bandwidth), layer types
 * against them, training and inference speed, memory, idle share and
 * start-up time, per device; a table on stdout, --json for a file, and
 * --compare for ratios against a saved file (docs/bench.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bench_cli.h"
#include "cli_util.h"
#include "clinpaint/files.h"
#include "commands.h"
#include "env_options.h"
#include "clinpaint/bench.h"
#include "clinpaint/clinpaint.h"

#define CMD "bench"
#define FORMAT_VERSION 1
#define MAX_DEVICES 16

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clinpaint bench [--device all|P:D|NAME ...] [--preset P] [--batch B ...]\n"
            "                       [--json FILE] [--compare FILE] [--load FILE] [--quick]\n\n"
            "Measures each chosen device: CLBlast SGEMM GFLOP/s (512, 1024, 2048 cubed,\n"
            "through cp_gemm) and copy bandwidth; per layer type (conv3, conv2, up2, dense,\n"
            "element-wise) forward and backward time, GFLOP/s, share of the ceiling and\n"
            "whether compute or memory limits it; a full training iteration (images/s,\n"
            "ms) at each --batch; inference images/s at batch 1 and 64; device memory;\n"
            "the share of time the device idles between kernels; start-up time with\n"
            "empty and with warm kernel caches. Warm-up first, then repetitions\n"
            "calibrated to about a second per figure: median and spread.\n\n"
            "  --device SEL    all, P:D, or part of a device name (repeatable;\n"
            "                  default: CLINPAINT_DEVICE or the default device)\n"
            "  --preset P      tiny, small or base (default tiny)\n"
            "  --batch B       training batch (repeatable; default 8)\n"
            "  --json FILE     write every figure as JSON\n"
            "  --compare FILE  print each figure's ratio to a saved JSON (this / saved)\n"
            "  --load FILE     do not measure: show a saved JSON (with --compare: two\n"
            "                  saved runs side by side)\n"
            "  --quick         seconds, not minutes (CI): tiny preset, batch 2, small\n"
            "                  GEMMs, minimal repetitions, no cold start-up run\n");
}
static void progress(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "  %s\n", line);
}

/* ---------------------------------------------------------------- main */

int cmd_bench(int argc, char **argv)
{
    const char *devsel[MAX_DEVICES];
    int ndev = 0;
    int batches[CP_BENCH_MAX_BATCHES], nb = 0;
    const char *preset = NULL, *json_path = NULL, *compare_path = NULL, *load_path = NULL;
    bool quick = false, probe = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (cli_is_help(a)) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(a, "--quick") == 0) {
            quick = true;
        } else if (strcmp(a, "--startup-probe") == 0) { /* hidden: the child */
            probe = true;
        } else if (strcmp(a, "--device") == 0 || strcmp(a, "--preset") == 0 ||
                   strcmp(a, "--batch") == 0 || strcmp(a, "--json") == 0 ||
                   strcmp(a, "--compare") == 0 || strcmp(a, "--load") == 0) {
            if (!has) return cli_usage_error(CMD, "%s needs a value", a);
            const char *v = argv[++i];
            if (strcmp(a, "--device") == 0) {
                if (ndev == MAX_DEVICES) return cli_usage_error(CMD, "at most %d --device", MAX_DEVICES);
                devsel[ndev++] = v;
            } else if (strcmp(a, "--preset") == 0) {
                if (strcmp(v, "tiny") && strcmp(v, "small") && strcmp(v, "base"))
                    return cli_usage_error(CMD, "unknown preset '%s' (tiny, small or base)", v);
                preset = v;
            } else if (strcmp(a, "--batch") == 0) {
                long b;
                if (!cli_parse_int(v, 1, 4096, &b))
                    return cli_usage_error(CMD, "--batch: '%s' is not a number in 1..4096", v);
                if (nb == CP_BENCH_MAX_BATCHES)
                    return cli_usage_error(CMD, "at most %d --batch", CP_BENCH_MAX_BATCHES);
                batches[nb++] = (int)b;
            } else if (strcmp(a, "--json") == 0) {
                json_path = v;
            } else if (strcmp(a, "--compare") == 0) {
                compare_path = v;
            } else {
                load_path = v;
            }
        } else {
            return cli_usage_error(CMD, "unknown option '%s'", a);
        }
    }
    if (!preset) preset = "tiny";
    if (nb == 0) batches[nb++] = quick ? 2 : 8;
    if (probe) return bench_startup_child(ndev ? devsel[0] : NULL, preset, batches[0]);

    cJSON *saved = NULL;
    if (compare_path && !(saved = bench_load_json(compare_path))) return CLI_EXIT_FAIL;
    if (load_path) {
        if (ndev || json_path || quick)
            fprintf(stderr, "clinpaint bench: note: --load shows a saved file; "
                            "--device, --json and --quick are ignored\n");
        cJSON *j = bench_load_json(load_path);
        if (!j) {
            cJSON_Delete(saved);
            return CLI_EXIT_FAIL;
        }
        printf("clinpaint bench: %s (clinpaint %s)\n\n", load_path, bench_str(j, "clinpaint_version"));
        const cJSON *d;
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(j, "devices")) bench_print_device(d);
        if (saved) bench_print_compare(j, saved, compare_path);
        cJSON_Delete(j);
        cJSON_Delete(saved);
        return CLI_EXIT_OK;
    }

    /* The devices, checked before anything runs. */
    cp_device_info *all = NULL;
    int nall = 0;
    char sels[MAX_DEVICES * 4][32];
    int nsel = 0;
    cp_status st = CP_OK;
    if (ndev == 0) {
        cp_device_info d;
        st = env_device_select(NULL, &d);
        if (st == CP_OK) snprintf(sels[nsel++], sizeof sels[0], "%d:%d", d.platform_index, d.device_index);
    }
    for (int i = 0; st == CP_OK && i < ndev; i++) {
        if (strcmp(devsel[i], "all") == 0) {
            if (!all) st = cp_device_list(&all, &nall);
            for (int k = 0; st == CP_OK && k < nall && nsel < MAX_DEVICES * 4; k++)
                snprintf(sels[nsel++], sizeof sels[0], "%d:%d", all[k].platform_index,
                         all[k].device_index);
        } else {
            cp_device_info d;
            st = env_device_select(devsel[i], &d);
            if (st == CP_OK && nsel < MAX_DEVICES * 4)
                snprintf(sels[nsel++], sizeof sels[0], "%d:%d", d.platform_index, d.device_index);
        }
    }
    free(all);
    if (st != CP_OK) {
        cJSON_Delete(saved);
        return cli_fail(CMD, st);
    }

    char platform[256], clblast[64];
    env_runtime_versions(platform, sizeof platform, clblast, sizeof clblast);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "format_version", FORMAT_VERSION);
    cJSON_AddStringToObject(root, "clinpaint_version", CLINPAINT_VERSION);
    cJSON_AddStringToObject(root, "library_version", cp_version());
    cJSON_AddStringToObject(root, "platform", platform);
    cJSON_AddStringToObject(root, "clblast_version", clblast);
    cJSON_AddBoolToObject(root, "quick", quick);
    {
        time_t t = time(NULL);
        char ts[64];
        struct tm tmv;
        gmtime_r(&t, &tmv);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tmv);
        cJSON_AddStringToObject(root, "date", ts);
        double load[1] = {0};
        FILE *lf = fopen("/proc/loadavg", "r");
        if (lf) {
            if (fscanf(lf, "%lf", &load[0]) != 1) load[0] = -1;
            fclose(lf);
            cJSON_AddNumberToObject(root, "load_average_1min", load[0]);
        }
    }
    cJSON *devs = cJSON_AddArrayToObject(root, "devices");
    int rc = CLI_EXIT_OK;
    for (int i = 0; i < nsel && rc == CLI_EXIT_OK; i++) {
        /* The start-up probe first: a child process, this process holds no
         * context yet. */
        cp_context *ctx = NULL;
        cli_warn_cache_dir("bench");
        st = env_context_create(sels[i], &ctx);
        if (st != CP_OK) {
            rc = cli_fail(CMD, st);
            break;
        }
        cp_bench_config c = cp_bench_defaults();
        c.preset = preset;
        memcpy(c.batches, batches, sizeof batches);
        c.batch_count = nb;
        c.progress = progress;
        if (quick) {
            c.seconds_per_figure = 0.02;
            c.min_runs = 2;
            c.gemm_sizes[0] = 128;
            c.gemm_sizes[1] = 256;
            c.gemm_sizes[2] = 512;
            c.bandwidth_bytes = 8u << 20;
            c.infer_batches[0] = 1;
            c.infer_batches[1] = 8;
        }
        fprintf(stderr, "clinpaint bench: %s (%s), preset %s\n", cp_context_device(ctx)->name,
                sels[i], preset);
        cp_bench_result r;
        st = cp_bench_run(ctx, &c, &r);
        cp_context_free(ctx);
        if (st != CP_OK) {
            rc = cli_fail(CMD, st);
            break;
        }
        cJSON *su = bench_startup_json(sels[i], preset, batches[0], !quick, &r.programs);
        cJSON *d = bench_device_json(&r, su);
        cJSON_AddItemToArray(devs, d);
        bench_print_device(d);
    }
    if (rc == CLI_EXIT_OK && json_path) {
        char *text = cJSON_Print(root);
        size_t len = text ? strlen(text) : 0;
        char *with_nl = text ? realloc(text, len + 2) : NULL;
        if (with_nl) {
            memcpy(with_nl + len, "\n", 2);
            text = with_nl;
        }
        st = with_nl ? cp_write_file_atomic(json_path, text, len + 1)
                     : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "%s: out of host memory", json_path);
        if (st != CP_OK) rc = cli_fail("bench", st); /* the message names the file */
        free(text);
        if (rc == CLI_EXIT_OK) fprintf(stderr, "clinpaint bench: wrote %s\n", json_path);
    }
    if (rc == CLI_EXIT_OK && saved) bench_print_compare(root, saved, compare_path);
    cJSON_Delete(root);
    cJSON_Delete(saved);
    return rc;
}
