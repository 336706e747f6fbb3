/*  al_strategy.c: the table of uncertainty strategies.

    A strategy is one file, al_<name>.c, defining a const al_strategy_t
    (declared extern in al_internal.h). Adding one = that file + one line
    in s_table below (and its extern in al_internal.h); the manifest, the
    actors and annotatectl find it by name through al_strategy_find and
    list it through al_strategy_names. Names are matched exactly: the
    manifest is the place to be forgiving, not here.
*/
#include <pthread.h>
#include <string.h>

#include "al/al_internal.h"

static const al_strategy_t *const s_table[] = {
    &al_margin,
    &al_least_confidence,
    &al_entropy,
};

#define S_COUNT (sizeof s_table / sizeof s_table[0])

const al_strategy_t *
al_strategy_find (const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < S_COUNT; i++)
        if (strcmp (s_table[i]->name, name) == 0)
            return s_table[i];
    return NULL;
}

static const char *s_names[S_COUNT + 1];
static pthread_once_t s_names_once = PTHREAD_ONCE_INIT;

/*  The names are taken from the table (not written twice), once: the
    table is the only list to edit when a strategy is added.  */
static void
s_names_fill (void)
{
    for (size_t i = 0; i < S_COUNT; i++)
        s_names[i] = s_table[i]->name;
    s_names[S_COUNT] = NULL;
}

const char *const *
al_strategy_names (void)
{
    pthread_once (&s_names_once, s_names_fill);
    return s_names;
}
