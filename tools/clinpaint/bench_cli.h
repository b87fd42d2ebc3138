/* clinpaint bench's parts besides the command (cmd_bench.c): the start-up
 * probe in a child process (bench_probe.c), the JSON file (bench_json.c)
 * and the report and comparison on stdout (bench_report.c). */
#ifndef CLINPAINT_BENCH_CLI_H
#define CLINPAINT_BENCH_CLI_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "clinpaint/bench.h"

/* The hidden child mode (--startup-probe): prints one line of figures. */
int bench_startup_child(const char *sel, const char *preset, int batch);
/* The start-up figures of a device: the probe in child processes (cold:
 * first with empty caches, then again with them filled), as JSON. */
cJSON *bench_startup_json(const char *sel, const char *preset, int batch, bool cold,
                          const cp_program_stats *in_process);

/* One device's results as the file's "devices" entry. */
cJSON *bench_device_json(const cp_bench_result *r, cJSON *startup);
/* A saved file, or NULL after printing why. */
cJSON *bench_load_json(const char *path);

/* The string `key` of o, "?" when missing. */
const char *bench_str(const cJSON *o, const char *key);
/* The table of one device's entry. */
void bench_print_device(const cJSON *d);
/* Ratios of every figure of `cur` against `saved`. */
void bench_print_compare(const cJSON *cur, const cJSON *saved, const char *saved_path);

#endif
