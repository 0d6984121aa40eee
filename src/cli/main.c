/* main.c — entry point of the einsum program; everything it does lives in
 * cli.c so the tests can link it. */
#include "cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
