/*  txn_fixture.h: a store in a temporary directory for unit tests that
    drive store transactions directly, with no writer actor (test_review.c,
    test_review_leases.c, test_dedup.c; store_fixture.h is the one with a
    writer, for the store's own tests).
    Include after cmocka.h. The store is opened without fsync: tests reopen
    it in the same process, and some write hundreds of items.  */
#ifndef ANNOTATE_TEST_TXN_FIXTURE_H
#define ANNOTATE_TEST_TXN_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store.h"

typedef struct {
    char dir[64];
    store_t *store;
    store_policy_t policy;
} fx_t;

static inline void
fx_open (fx_t *fx)
{
    store_config_t cfg = { .dir = fx->dir, .initial_map_bytes = 16u << 20, .no_sync = true };
    char err[256] = "";
    fx->store = store_open (&cfg, err, sizeof err);
    if (!fx->store)
        fail_msg ("store_open: %s", err);
}

static inline int
fx_rm_entry (const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb;
    (void) flag;
    (void) ftw;
    return remove (path);
}

/*  A fresh store under /tmp/<name>.XXXXXX with this policy.  */
static inline int
fx_setup (void **state, const char *name, store_policy_t policy)
{
    fx_t *fx = calloc (1, sizeof *fx);
    if (!fx)
        return -1;
    snprintf (fx->dir, sizeof fx->dir, "/tmp/%s.XXXXXX", name);
    if (!mkdtemp (fx->dir)) {
        free (fx);
        return -1;
    }
    fx->policy = policy;
    fx_open (fx);
    *state = fx;
    return 0;
}

static inline int
fx_teardown (void **state)
{
    fx_t *fx = *state;
    store_destroy (&fx->store);
    nftw (fx->dir, fx_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free (fx);
    return 0;
}

static inline MDB_txn *
wbegin (fx_t *fx)
{
    MDB_txn *txn = NULL;
    assert_int_equal (store_write_begin (fx->store, &txn), 0);
    return txn;
}

static inline void
wcommit (fx_t *fx, MDB_txn *txn)
{
    assert_int_equal (store_write_commit (fx->store, txn), 0);
}

#endif
