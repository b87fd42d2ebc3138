/* Placeholder until this command is built (see the issues). */
#include <stdio.h>

#include "commands.h"

int cmd_synth(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clinpaint synth: not available in this version yet\n");
    return 1;
}
