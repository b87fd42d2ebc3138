/* clinpaint synth: draw a data set of synthetic faces. */
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "clinpaint/synth.h"
#include "commands.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clinpaint synth --count N --size S [--seed K] OUT_DIR\n\n"
            "Draws N synthetic face images of S×S pixels as OUT_DIR/face_000000.png, ...\n"
            "(OUT_DIR is created when missing). The same seed gives the same images.\n\n"
            "options:\n"
            "  --count N   number of faces, at least 1\n"
            "  --size S    image side in pixels, %d..%d\n"
            "  --seed K    random seed (default 0)\n"
            "  -h, --help  show this help\n",
            CP_SYNTH_MIN_SIZE, CP_SYNTH_MAX_SIZE);
}

int cmd_synth(int argc, char **argv)
{
    const char *cmd = "synth";
    long count = -1, size = -1;
    uint64_t seed = 0;
    const char *out_dir = NULL;
    for (int i = 1; i < argc; i++) {
        bool m;
        const char *v;
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if ((v = cli_option_value(argc, argv, &i, "--count", &m)) || m) {
            if (!v || !cli_parse_int(v, 1, 100000000, &count))
                return cli_usage_error(cmd, "--count needs a whole number from 1 to 100000000, got '%s'",
                                       v ? v : "");
        } else if ((v = cli_option_value(argc, argv, &i, "--size", &m)) || m) {
            if (!v || !cli_parse_int(v, CP_SYNTH_MIN_SIZE, CP_SYNTH_MAX_SIZE, &size))
                return cli_usage_error(cmd, "--size needs a whole number from %d to %d, got '%s'",
                                       CP_SYNTH_MIN_SIZE, CP_SYNTH_MAX_SIZE, v ? v : "");
        } else if ((v = cli_option_value(argc, argv, &i, "--seed", &m)) || m) {
            if (!v || !cli_parse_u64(v, &seed))
                return cli_usage_error(cmd, "--seed needs a non-negative whole number, got '%s'",
                                       v ? v : "");
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        } else if (out_dir) {
            return cli_usage_error(cmd, "only one OUT_DIR may be given ('%s' and '%s')", out_dir, argv[i]);
        } else {
            out_dir = argv[i];
        }
    }
    if (count < 0) return cli_usage_error(cmd, "--count N is required");
    if (size < 0) return cli_usage_error(cmd, "--size S is required");
    if (!out_dir) return cli_usage_error(cmd, "OUT_DIR is required");
    cp_status st = cp_synth_write_dataset(out_dir, (uint64_t)count, (int)size, seed);
    if (st != CP_OK) return cli_fail(cmd, st);
    printf("wrote %ld synthetic faces of %ldx%ld pixels to %s (seed %llu)\n", count, size, size, out_dir,
           (unsigned long long)seed);
    return CLI_EXIT_OK;
}
