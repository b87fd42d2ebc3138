/* clinpaint: the command-line entry point. Dispatches to cmd_<name>.c. */
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "env_options.h"
#include "clinpaint/clinpaint.h"

const cp_command cp_commands[] = {
    {"devices", "list OpenCL platforms and devices", cmd_devices},
    {"demo", "generate faces, train a tiny model, inpaint (start here)", cmd_demo},
    {"train", "train the context encoder on a folder of images", cmd_train},
    {"inpaint", "fill the masked region of images with a trained model", cmd_inpaint},
    {"eval", "PSNR, SSIM and L1 of a model on a folder of images", cmd_eval},
    {"synth", "draw a data set of synthetic faces", cmd_synth},
    {"maskify", "draw medical masks onto faces: masked face, exact mask, original", cmd_maskify},
    {"unmask", "find the medical mask on faces and restore what it hides", cmd_unmask},
    {"bench", "measure a device: GEMM, layers, training speed", cmd_bench},
    {"tune", "tune CLBlast's GEMM kernels for a device", cmd_tune},
    {NULL, NULL, NULL},
};

static void print_help(FILE *f)
{
    fprintf(f,
            "clinpaint %s: train and run a GAN context encoder for image "
            "inpainting on any OpenCL device\n\n"
            "usage: clinpaint [--max-megapixels N] COMMAND [options]\n"
            "       clinpaint COMMAND --help\n"
            "       clinpaint --version\n\ncommands:\n",
            CLINPAINT_VERSION);
    for (const cp_command *c = cp_commands; c->name; c++)
        fprintf(f, "  %-9s %s\n", c->name, c->summary);
    fprintf(f, "\n--max-megapixels N: largest image read, in units of 2^20 pixels (default "
               "64, i.e. 8192x8192);\nlarger headers are refused before decoding. Also "
               "CLINPAINT_MAX_MEGAPIXELS.\n");
    fprintf(f, "\nenvironment: CLINPAINT_DEVICE (device selector), "
               "CLINPAINT_KERNEL_DIR, CLINPAINT_CACHE_DIR, CLINPAINT_NO_CACHE=1, "
               "CLINPAINT_MAX_MEGAPIXELS\n");
}

static void print_version(void)
{
    char platform[256], clblast[64];
    env_runtime_versions(platform, sizeof platform, clblast, sizeof clblast);
    printf("clinpaint %s\nlibrary %s\nOpenCL platform %s\nCLBlast %s\n",
           CLINPAINT_VERSION, cp_version(), platform, clblast);
}

/* The image pixel budget (library default 64 Mi pixels) from `value`, in
 * units of 2^20 pixels. False with a message when it is not a valid count. */
static bool set_max_megapixels(const char *value, const char *from)
{
    long mp;
    if (!cli_parse_int(value, 1, (long)(CP_IMAGE_PIXEL_CEILING >> 20), &mp) ||
        cp_image_set_max_pixels((size_t)mp << 20) != CP_OK) {
        fprintf(stderr, "clinpaint: %s: '%s' is not a number of megapixels from 1 to %zu\n",
                from, value, (size_t)(CP_IMAGE_PIXEL_CEILING >> 20));
        return false;
    }
    return true;
}

/* Results go to stdout: a full disk or closed pipe there is a failure too
 * (`eval --json > file` must not exit 0 with a truncated file). */
static int finish_stdout(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "clinpaint: cannot write the results to standard output: %s\n",
                strerror(errno));
        if (rc == CLI_EXIT_OK) rc = CLI_EXIT_FAIL;
    }
    return rc;
}

int main(int argc, char **argv)
{
    const char *env = getenv("CLINPAINT_MAX_MEGAPIXELS");
    if (env && *env && !set_max_megapixels(env, "CLINPAINT_MAX_MEGAPIXELS"))
        return CLI_EXIT_USAGE;
    /* the global option comes before the command (and overrides the variable) */
    const char *opt = argc >= 2 && strncmp(argv[1], "--max-megapixels", 16) == 0 ? argv[1] + 16 : NULL;
    if (opt && (*opt == '=' || *opt == '\0')) {
        if (*opt == '\0' && argc < 3) {
            fprintf(stderr, "clinpaint: --max-megapixels needs a value\n");
            return CLI_EXIT_USAGE;
        }
        int used = *opt == '=' ? 1 : 2;
        if (!set_max_megapixels(*opt == '=' ? opt + 1 : argv[2], "--max-megapixels"))
            return CLI_EXIT_USAGE;
        argc -= used;
        argv += used;
        argv[0] = "clinpaint";
    }
    if (argc < 2) {
        print_help(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (cli_is_help(name) || strcmp(name, "help") == 0) {
        print_help(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        print_version();
        return CLI_EXIT_OK;
    }
    for (const cp_command *c = cp_commands; c->name; c++)
        if (strcmp(c->name, name) == 0) return finish_stdout(c->run(argc - 1, argv + 1));
    fprintf(stderr, "clinpaint: unknown command '%s'\n", name);
    fprintf(stderr, "usage: clinpaint COMMAND [options]; run 'clinpaint --help' for the list\n");
    return CLI_EXIT_USAGE;
}
