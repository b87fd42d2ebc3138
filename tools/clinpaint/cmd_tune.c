/* Placeholder until this command is built (see the issues). */
#include <stdio.h>

#include "commands.h"

int cmd_tune(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clinpaint tune: not available in this version yet\n");
    return 1;
}
