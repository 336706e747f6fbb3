/*  test_review_leases.c: the leases that hand the review queue to people
    (review/review.c): concurrent reviewers never share an item, expiry,
    idempotent answers, skips, budgets and the diversity pick. The store is
    driven directly (review_fixture.h), as in test_review.c.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "al/al.h"
#include "review/review.h"
#include "store/store.h"
#include "review_fixture.h"
#include "util/util.h"

/* ---- 7. leases ------------------------------------------------------------------------ */

#define N_CONC     600
#define N_THREADS  8

typedef struct {
    review_t *rv;
    pthread_barrier_t start;    /* every thread leases from the same moment */
    pthread_mutex_t lock;
    char granted[N_CONC * 2][16];
    size_t n_granted, dups, errors;
} shared_t;

typedef struct {
    shared_t *sh;
    int index;
} worker_t;

static void *
lease_worker (void *arg)
{
    worker_t *w = arg;
    shared_t *sh = w->sh;
    char name[16];
    snprintf (name, sizeof name, "rev%d", w->index);
    pthread_barrier_wait (&sh->start);
    for (int round = 0; round < 1000; round++) {
        review_task_t tasks[3];
        char why[256];
        uint64_t depth;
        size_t n = review_lease (sh->rv, name, 3, 300, T0, tasks, why, sizeof why, &depth);
        if (n == 0)
            break;
        /* cmocka asserts are not thread-safe: count, assert in the test */
        pthread_mutex_lock (&sh->lock);
        if (n > 3)
            sh->errors++;
        for (size_t i = 0; i < n && i < 3; i++) {
            for (size_t k = 0; k < sh->n_granted; k++)
                if (strcmp (sh->granted[k], tasks[i].id) == 0)
                    sh->dups++;
            if (sh->n_granted < N_CONC * 2)
                snprintf (sh->granted[sh->n_granted++], 16, "%s", tasks[i].id);
        }
        pthread_mutex_unlock (&sh->lock);
        review_tasks_free (tasks, n < 3 ? n : 3);
    }
    return NULL;
}

static void
test_leases_concurrent (void **state)
{
    fx_t *fx = *state;
    queue_n (fx, "k", N_CONC, NULL);
    shared_t *sh = calloc (1, sizeof *sh);
    review_t *rv = sh->rv = review_new (fx->store);
    assert_non_null (rv);
    pthread_mutex_init (&sh->lock, NULL);
    pthread_barrier_init (&sh->start, NULL, N_THREADS);
    pthread_t th[N_THREADS];
    worker_t w[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (worker_t) { sh, i };
        assert_int_equal (pthread_create (&th[i], NULL, lease_worker, &w[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++)
        pthread_join (th[i], NULL);
    assert_int_equal (sh->errors, 0);
    assert_int_equal (sh->dups, 0);
    assert_int_equal (sh->n_granted, N_CONC);  /* every queued item, once */
    review_counts_t c;
    review_counts (rv, T0, &c);
    assert_int_equal (c.leased, N_CONC);
    /* exhausted: nothing more, and a message that says why */
    review_task_t t[1];
    char why[256];
    uint64_t depth;
    assert_int_equal (review_lease (rv, "late", 1, 300, T0, t, why, sizeof why, &depth), 0);
    assert_int_equal (depth, N_CONC);
    assert_non_null (strstr (why, "leased"));
    pthread_mutex_destroy (&sh->lock);
    pthread_barrier_destroy (&sh->start);
    free (sh);
    review_destroy (&rv);
    assert_null (rv);
}

static size_t
lease (review_t *rv, const char *who, size_t max, uint32_t lease_s, int64_t now,
       review_task_t *out, char *why)
{
    uint64_t depth;
    return review_lease (rv, who, max, lease_s, now, out, why, 256, &depth);
}

static void
test_lease_expiry_check_release (void **state)
{
    fx_t *fx = *state;
    const float unc[] = { 0.9f, 0.6f, 0.3f };
    queue_n (fx, "e", 3, unc);
    review_t *rv = review_new (fx->store);
    review_task_t t1[1], t2[1], t3[1], t4[3];
    char why[256];
    uint64_t seq = 0;
    char label[64];

    /* r1 takes the head for one second */
    assert_int_equal (lease (rv, "r1", 1, 1, T0, t1, why), 1);
    assert_string_equal (t1[0].id, "e000");
    assert_int_equal (t1[0].expires_ms, T0 + 1000);
    assert_int_equal (t1[0].reason, R_UNCERTAIN);
    assert_float_equal (t1[0].priority, 0.9f, 1e-6);
    /* while it holds it, r2 gets the next one */
    assert_int_equal (lease (rv, "r2", 1, 300, T0 + 500, t2, why), 1);
    assert_string_equal (t2[0].id, "e001");
    /* after expiry the head is offered again */
    assert_int_equal (lease (rv, "r3", 1, 300, T0 + 1500, t3, why), 1);
    assert_string_equal (t3[0].id, "e000");
    assert_string_not_equal (t3[0].lease, t1[0].lease);

    /* r1's late answer: the item moved on to r3 */
    assert_int_equal (review_check (rv, "r1", t1[0].lease, "e000", T0 + 1600, &seq, label,
                                    sizeof label),
                      REVIEW_HELD);
    assert_int_equal (review_check (rv, "r3", t3[0].lease, "e000", T0 + 1600, &seq, label,
                                    sizeof label),
                      REVIEW_OK);
    uint64_t s = human (fx, "e000", "b");
    review_done (rv, t3[0].lease, "e000", s, "b", true, T0 + 1700);
    seq = 0;
    label[0] = 0;
    assert_int_equal (review_check (rv, "r3", t3[0].lease, "e000", T0 + 1800, &seq, label,
                                    sizeof label),
                      REVIEW_DUPLICATE);
    assert_int_equal (seq, s);
    assert_string_equal (label, "b");
    review_counts_t c;
    review_counts (rv, T0 + 1800, &c);
    assert_int_equal (c.leased, 1);             /* r2's */
    assert_int_equal (c.answers_last_hour, 1);

    /* r2 skips e001: others get it, r2 does not (within the hide window) */
    review_release (rv, "r2", t2[0].lease, "e001", T0 + 2000);
    review_counts (rv, T0 + 2000, &c);
    assert_int_equal (c.leased, 0);
    assert_int_equal (lease (rv, "r2", 3, 300, T0 + 2100, t4, why), 1);
    assert_string_equal (t4[0].id, "e002");
    review_tasks_free (t4, 1);
    review_task_t t5[3];
    assert_int_equal (lease (rv, "r4", 3, 300, T0 + 2200, t5, why), 1);
    assert_string_equal (t5[0].id, "e001");
    review_tasks_free (t5, 1);
    /* r2 alone, everything left leased or skipped by it */
    assert_int_equal (lease (rv, "r2", 3, 300, T0 + 2300, t4, why), 0);
    assert_non_null (strstr (why, "skipped"));
    /* once the hide window and the leases are over, r2 sees it again */
    int64_t later = T0 + 2000 + 16 * 60 * 1000;
    assert_int_equal (lease (rv, "r2", 3, 300, later, t4, why), 2);
    assert_string_equal (t4[0].id, "e001");
    assert_string_equal (t4[1].id, "e002");
    review_tasks_free (t4, 2);

    review_tasks_free (t1, 1);
    review_tasks_free (t2, 1);
    review_tasks_free (t3, 1);
    review_destroy (&rv);
}

static void
test_lease_budget (void **state)
{
    fx_t *fx = *state;
    queue_n (fx, "b", 6, NULL);
    review_t *rv = review_new (fx->store);
    review_config_t cfg = { .lease_s = 300, .budget_total = 2 };
    features_config_default (&cfg.features);
    review_configure (rv, &cfg);
    review_task_t t[5];
    char why[256];
    assert_int_equal (lease (rv, "r1", 1, 0, T0, t, why), 1);
    assert_int_equal (t[0].expires_ms, T0 + 300 * 1000);   /* the configured length */
    review_tasks_free (t, 1);
    assert_int_equal (lease (rv, "r2", 1, 0, T0, t, why), 1);
    review_tasks_free (t, 1);
    assert_int_equal (lease (rv, "r3", 1, 0, T0, t, why), 0);
    assert_non_null (strstr (why, "budget"));
    review_destroy (&rv);

    /* a batch larger than what is left is cut to the budget */
    rv = review_new (fx->store);
    review_configure (rv, &cfg);
    assert_int_equal (lease (rv, "r1", 5, 0, T0, t, why), 2);
    review_tasks_free (t, 2);
    assert_int_equal (lease (rv, "r1", 5, 0, T0, t, why), 0);
    assert_non_null (strstr (why, "budget"));
    review_destroy (&rv);

    /* answers count against it too: one human label, budget 2 -> one lease */
    human (fx, "b005", "a");
    rv = review_new (fx->store);
    review_configure (rv, &cfg);
    assert_int_equal (lease (rv, "r1", 5, 0, T0, t, why), 1);
    review_tasks_free (t, 1);
    review_destroy (&rv);
}

/*  budget_per_hour caps "answers in the last hour plus leases out" for
    the size of one batch too, not only for whether any lease is granted
    (a batch of 5 with budget_per_hour 2 once got all 5).  */
static void
test_lease_hourly_budget_caps_batch (void **state)
{
    fx_t *fx = *state;
    queue_n (fx, "p", 6, NULL);
    review_t *rv = review_new (fx->store);
    review_config_t cfg = { .lease_s = 300, .budget_per_hour = 2 };
    features_config_default (&cfg.features);
    review_configure (rv, &cfg);
    review_task_t t[5];
    char why[256];
    size_t n = lease (rv, "r1", 5, 0, T0, t, why);
    review_tasks_free (t, n);
    size_t more = lease (rv, "r2", 1, 0, T0, t, why);
    review_tasks_free (t, more);
    review_destroy (&rv);
    assert_int_equal (n, 2);
    assert_int_equal (more, 0);
    assert_non_null (strstr (why, "hourly"));
}

/* ---- 8. diversity ---------------------------------------------------------------------- */

static size_t
diverse_batch (fx_t *fx, float max_sim, review_task_t *t)
{
    review_t *rv = review_new (fx->store);
    review_config_t cfg = { .lease_s = 300, .diversity_max_sim = max_sim };
    features_config_default (&cfg.features);
    cfg.features.hash_bits = 0;
    cfg.features.vector_dim = 4;
    review_configure (rv, &cfg);
    char why[256];
    size_t n = lease (rv, "r1", 2, 0, T0, t, why);
    review_destroy (&rv);
    return n;
}

static void
test_diversity_pick (void **state)
{
    fx_t *fx = *state;
    const float twin[4] = { 1, 0.5f, 0, 0 }, other[4] = { 0, 0, 1, 0 };
    ingest (fx, "twin1", "first twin", twin);
    ingest (fx, "twin2", "second twin", twin);
    ingest (fx, "other", "the different one", other);
    assert_int_equal (machine (fx, "twin1", TICKET, S_MODEL, 1, "a", 0.6f, 0.9f), 1);
    assert_int_equal (machine (fx, "twin2", TICKET, S_MODEL, 1, "a", 0.6f, 0.8f), 1);
    assert_int_equal (machine (fx, "other", TICKET, S_MODEL, 1, "a", 0.6f, 0.3f), 1);
    review_task_t t[2];
    assert_int_equal (diverse_batch (fx, 0.95f, t), 2);
    bool twin_seen = false, other_seen = false;
    for (int i = 0; i < 2; i++) {
        if (strcmp (t[i].id, "other") == 0)
            other_seen = true;
        else if (strncmp (t[i].id, "twin", 4) == 0) {
            assert_false (twin_seen);       /* one twin is enough */
            twin_seen = true;
        }
    }
    assert_true (twin_seen);
    assert_true (other_seen);
    review_tasks_free (t, 2);
    /* without the diversity pick the batch is just the queue's head */
    assert_int_equal (diverse_batch (fx, 0.0f, t), 2);
    assert_string_equal (t[0].id, "twin1");
    assert_string_equal (t[1].id, "twin2");
    review_tasks_free (t, 2);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_leases_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown (test_lease_expiry_check_release, setup, teardown),
        cmocka_unit_test_setup_teardown (test_lease_budget, setup, teardown),
        cmocka_unit_test_setup_teardown (test_lease_hourly_budget_caps_batch, setup, teardown),
        cmocka_unit_test_setup_teardown (test_diversity_pick, setup, teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
