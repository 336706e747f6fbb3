/*  review.h: the leases that hand the review queue to people.

    The queue itself is durable and lives in the store (store_review.c):
    an item stays in it until a person's label is committed. What a
    review_t adds is who is looking at what right now: a lease gives one
    reviewer an item for lease_s seconds; nobody else is offered it
    meanwhile; it ends with an answer, a skip, or by expiring, after which
    the item is offered again. Leases are deliberately not durable: after a
    coordinator restart every queued item is free again, which costs at
    most one repeated look, never a lost or doubled label (answers are
    idempotent, see review_check).

    A batch for one reviewer is picked from the head of the queue (where
    the validation sample waits, of which at most validation_share of a
    batch is taken so the sample grows steadily without starving the rest):
    the most informative unleased items, several times more candidates than
    asked for, from which al_diverse_pick keeps items that are not near
    copies of each other (cosine over the same features the model uses).
    Before any model exists (cold start) the queue is in a random order;
    with cold_start "stratified" the pick ignores that order and spreads
    the batch over the feature space (farthest-first), a seed set that
    covers the data's clusters.

    Budgets: budget_total caps people's answers in all (human labels in the
    store, plus leases out), budget_per_hour the answers given through
    review in the last hour (plus leases out).

    Thread-safe: gRPC handler threads call it concurrently; one mutex
    guards the lease table. review_lease works in three steps: under the
    mutex, with a short read transaction, it collects candidates from the
    queue head; with no lock held it featurises them and picks the batch;
    under the mutex again, with a fresh read transaction, it grants only
    the picked items that are still queued and not leased meanwhile (so an
    item answered or leased by someone else in between is never granted)
    and that the budgets still allow. No read transaction is held while
    features are computed.
*/
#ifndef ANNOTATE_REVIEW_H
#define ANNOTATE_REVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "features/features.h"
#include "manifest/manifest.h"
#include "store/store.h"

#define REVIEW_MAX_BATCH    100
#define REVIEW_LEASE_BYTES  40

typedef struct {
    uint32_t lease_s;               /* default lease length */
    uint64_t budget_total;          /* 0: unlimited */
    uint64_t budget_per_hour;       /* 0: unlimited */
    float diversity_max_sim;        /* 0: no diversity pick */
    float validation_share;         /* at most this share of a batch is validation sample */
    bool stratified;                /* cold start: spread over the feature space */
    features_config_t features;     /* what similarity is measured on */
} review_config_t;

typedef struct {
    char *id;
    char lease[REVIEW_LEASE_BYTES];
    int64_t expires_ms;
    uint8_t reason;                 /* Annotate__V1__ReviewReason */
    float priority;
} review_task_t;

typedef enum {
    REVIEW_OK = 0,          /* go ahead and write the answer */
    REVIEW_DUPLICATE = 1,   /* this lease was answered already: *seq, *label */
    REVIEW_HELD = 2         /* another reviewer holds the item now */
} review_check_t;

typedef struct review review_t;

review_t *review_new (store_t *store);
void review_destroy (review_t **self_p);

void review_config_from_manifest (const manifest_t *m, review_config_t *out);
void review_configure (review_t *self, const review_config_t *cfg);

/*  Leases up to max items (1..REVIEW_MAX_BATCH) to reviewer for lease_s
    seconds (0: the configured length). Returns how many were written to
    out (each id malloc'ed: free with review_tasks_free). When none, why
    says so ("the queue is empty", "review budget of N answers spent").
    *depth is the queue depth seen.  */
size_t review_lease (review_t *self, const char *reviewer, size_t max, uint32_t lease_s,
                     int64_t now_ms, review_task_t *out, char *why, size_t whylen,
                     uint64_t *depth);
void review_tasks_free (review_task_t *tasks, size_t n);

/*  Before an answer is written. REVIEW_DUPLICATE fills *seq and *label
    (a pointer into the table, copy it before the next call).  */
review_check_t review_check (review_t *self, const char *reviewer, const char *lease,
                             const char *id, int64_t now_ms, uint64_t *seq, char *label,
                             size_t label_len);
/*  After the answer was committed as event seq: the lease ends, the answer
    is remembered (for idempotency) and, when counted (not a repeat of an
    answer already stored), counted for the hourly budget.  */
void review_done (review_t *self, const char *lease, const char *id, uint64_t seq,
                  const char *label, bool counted, int64_t now_ms);
/*  A skip: the lease ends and this reviewer is not offered the item again
    for a while.  */
void review_release (review_t *self, const char *reviewer, const char *lease, const char *id,
                     int64_t now_ms);

typedef struct {
    uint64_t leased;
    uint64_t answers_last_hour;
    uint64_t budget_total, budget_per_hour;
} review_counts_t;

void review_counts (review_t *self, int64_t now_ms, review_counts_t *out);

#endif
