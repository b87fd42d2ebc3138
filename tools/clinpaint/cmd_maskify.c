/* clinpaint maskify: draw medical masks onto face crops, writing the masked
 * face, the exact mask and the original (the segmenter's training data). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "clinpaint/maskify.h"
#include "commands.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clinpaint maskify --data FACES --out DIR [--count N] [--seed K]\n"
            "                         [--kinds surgical,n95,cloth] [--size S] [--split all|train|test]\n\n"
            "Draws a medical mask (surgical, N95/KN95 or cloth) onto each aligned face crop under\n"
            "FACES and writes, per face NAME (its relative path without the extension):\n"
            "  DIR/masked/NAME.png    the masked face\n"
            "  DIR/mask/NAME.png      the mask: white = every pixel the drawing changed\n"
            "  DIR/original/NAME.png  the face as it was (S x S)\n"
            "  DIR/maskify.csv        file,kind,source for every face\n"
            "The same seed gives the same bytes.\n\n"
            "options:\n"
            "  --data FACES   folder of face crops (read recursively)\n"
            "  --out DIR      output folder (created when missing; files there are replaced)\n"
            "  --count N      faces to write (default: one per image; more than the images:\n"
            "                 further rounds with new masks, named NAME_r1.png, ...)\n"
            "  --seed K       random seed (default 0)\n"
            "  --kinds LIST   comma-separated kinds to draw (default surgical,n95,cloth)\n"
            "  --size S       face side in pixels, %d..%d (default 128); faces are\n"
            "                 centre-cropped and resized to it as for training\n"
            "  --split WHICH  all images (default), or only the train or test split\n"
            "  -h, --help     show this help\n",
            CP_MASKIFY_MIN_SIZE, CP_MASKIFY_MAX_SIZE);
}

static void show_progress(void *user, uint64_t done, uint64_t total)
{
    (void)user;
    if (done == total || done % 50 == 0)
        fprintf(stderr, "\rmaskify: %llu/%llu faces%s", (unsigned long long)done, (unsigned long long)total,
                done == total ? "\n" : "");
}

int cmd_maskify(int argc, char **argv)
{
    const char *cmd = "maskify";
    cp_maskify_options o = cp_maskify_defaults();
    const char *data = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        bool m;
        const char *v;
        long n;
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if ((v = cli_option_value(argc, argv, &i, "--data", &m)) || m) {
            if (!v || !*v) return cli_usage_error(cmd, "--data needs a folder");
            data = v;
        } else if ((v = cli_option_value(argc, argv, &i, "--out", &m)) || m) {
            if (!v || !*v) return cli_usage_error(cmd, "--out needs a folder");
            out = v;
        } else if ((v = cli_option_value(argc, argv, &i, "--count", &m)) || m) {
            if (!v || !cli_parse_int(v, 1, 100000000, &n))
                return cli_usage_error(cmd, "--count needs a whole number from 1 to 100000000, got '%s'",
                                       v ? v : "");
            o.count = (uint64_t)n;
        } else if ((v = cli_option_value(argc, argv, &i, "--seed", &m)) || m) {
            if (!v || !cli_parse_u64(v, &o.seed))
                return cli_usage_error(cmd, "--seed needs a non-negative whole number, got '%s'", v ? v : "");
        } else if ((v = cli_option_value(argc, argv, &i, "--size", &m)) || m) {
            if (!v || !cli_parse_int(v, CP_MASKIFY_MIN_SIZE, CP_MASKIFY_MAX_SIZE, &n))
                return cli_usage_error(cmd, "--size needs a whole number from %d to %d, got '%s'",
                                       CP_MASKIFY_MIN_SIZE, CP_MASKIFY_MAX_SIZE, v ? v : "");
            o.size = (int)n;
        } else if ((v = cli_option_value(argc, argv, &i, "--kinds", &m)) || m) {
            if (!v || cp_maskify_kinds_parse(v, &o.kinds) != CP_OK)
                return cli_usage_error(cmd, "--kinds needs a comma-separated list of surgical, n95, cloth; "
                                       "got '%s'", v ? v : "");
        } else if ((v = cli_option_value(argc, argv, &i, "--split", &m)) || m) {
            if (v && strcmp(v, "all") == 0) o.split = CP_SPLIT_ALL;
            else if (v && strcmp(v, "train") == 0) o.split = CP_SPLIT_TRAIN;
            else if (v && strcmp(v, "test") == 0) o.split = CP_SPLIT_TEST;
            else return cli_usage_error(cmd, "--split needs all, train or test, got '%s'", v ? v : "");
        } else if (argv[i][0] == '-') {
            return cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        } else {
            return cli_usage_error(cmd, "unexpected argument '%s' (the faces go after --data)", argv[i]);
        }
    }
    if (!data) return cli_usage_error(cmd, "--data FACES is required");
    if (!out) return cli_usage_error(cmd, "--out DIR is required");
    if (isatty(STDERR_FILENO)) o.progress = show_progress;
    cp_maskify_result res;
    cp_status st = cp_maskify_folder(data, out, &o, &res);
    if (st != CP_OK) return cli_fail(cmd, st);
    printf("wrote %llu masked faces of %dx%d pixels to %s (surgical %llu, n95 %llu, cloth %llu; seed %llu)\n",
           (unsigned long long)res.written, o.size, o.size, out,
           (unsigned long long)res.per_kind[CP_MASKIFY_SURGICAL], (unsigned long long)res.per_kind[CP_MASKIFY_N95],
           (unsigned long long)res.per_kind[CP_MASKIFY_CLOTH], (unsigned long long)o.seed);
    if (res.skipped)
        fprintf(stderr, "clinpaint maskify: %llu image(s) could not be read and were skipped\n",
                (unsigned long long)res.skipped);
    return CLI_EXIT_OK;
}
