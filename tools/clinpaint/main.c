/* clinpaint: the command-line entry point. Dispatches to cmd_<name>.c. */
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "clinpaint/clinpaint.h"

const cp_command cp_commands[] = {
    {"devices", "list OpenCL platforms and devices", cmd_devices},
    {"demo", "generate faces, train a tiny model, inpaint (start here)", cmd_demo},
    {"train", "train the context encoder on a folder of images", cmd_train},
    {"inpaint", "fill the masked region of images with a trained model", cmd_inpaint},
    {"eval", "PSNR, SSIM and L1 of a model on a folder of images", cmd_eval},
    {"synth", "draw a data set of synthetic faces", cmd_synth},
    {"bench", "measure a device: GEMM, layers, training speed", cmd_bench},
    {"tune", "tune CLBlast's GEMM kernels for a device", cmd_tune},
    {NULL, NULL, NULL},
};

static void print_help(FILE *f)
{
    fprintf(f,
            "clinpaint %s: train and run a GAN context encoder for image "
            "inpainting on any OpenCL device\n\n"
            "usage: clinpaint COMMAND [options]\n"
            "       clinpaint COMMAND --help\n"
            "       clinpaint --version\n\ncommands:\n",
            CLINPAINT_VERSION);
    for (const cp_command *c = cp_commands; c->name; c++)
        fprintf(f, "  %-9s %s\n", c->name, c->summary);
    fprintf(f, "\nenvironment: CLINPAINT_DEVICE (device selector), "
               "CLINPAINT_KERNEL_DIR, CLINPAINT_CACHE_DIR, CLINPAINT_NO_CACHE=1\n");
}

static void print_version(void)
{
    char platform[256], clblast[64];
    cp_runtime_versions(platform, sizeof platform, clblast, sizeof clblast);
    printf("clinpaint %s\nlibrary %s\nOpenCL platform %s\nCLBlast %s\n",
           CLINPAINT_VERSION, cp_version(), platform, clblast);
}

int main(int argc, char **argv)
{
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
        if (strcmp(c->name, name) == 0) return c->run(argc - 1, argv + 1);
    fprintf(stderr, "clinpaint: unknown command '%s'\n", name);
    fprintf(stderr, "usage: clinpaint COMMAND [options]; run 'clinpaint --help' for the list\n");
    return CLI_EXIT_USAGE;
}
