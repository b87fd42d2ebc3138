/* Placeholder until this command is built (see the issues). */
#include <stdio.h>

#include "commands.h"

int cmd_train(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clinpaint train: not available in this version yet\n");
    return 1;
}
