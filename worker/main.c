/* placeholder until the worker runtime lands (owned by the cluster helper) */
#include <stdio.h>
int
main (void)
{
    fputs ("annotate-worker: not built yet\n", stderr);
    return 1;
}
