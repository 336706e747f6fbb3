/*  propagation_job.h: one propagate order of an active_learning actor:
    label spreading over the pulled pages, thresholds fitted on the
    validation sample, results handed back in pieces.

    The actor feeds every pulled TrainExample to propagation_job_add, which
    turns it at once into a sketch (graph/sketch.h) and appends it to a kNN
    graph (graph/knn.h), so the job holds each item once, as `dim` floats:
    the raw vector (sketch_dense) when the spec has no text features, else a
    random projection of the hashed features to sketch_dim floats
    (sketch_sparse). propagation_job_run builds the graph, spreads the
    labels people gave (graph/spread.h) and fits per-class auto-accept
    thresholds on the validation sample exactly as a retrained model's are
    fitted (retrain_thresholds.c): the sample items are left unlabelled for
    the spreading, so the spreading is judged on answers it never saw.
    propagation_job_next then hands out Propagated messages of at most
    max_labels labels each, the first with the ModelInfo of the fit, the
    last marked done.

    Not thread-safe: one owner (the actor).
*/
#ifndef ANNOTATE_PROPAGATION_JOB_H
#define ANNOTATE_PROPAGATION_JOB_H

#include <stdbool.h>
#include <stddef.h>

#include "annotate/v1/cluster.pb-c.h"

#define PROPAGATION_JOB_MAX_EXAMPLES 2000000
#define PROPAGATION_JOB_PIECE 2000 /* labels a piece, by default */

typedef struct propagation_job propagation_job_t;

/*  spec: the order's model spec (labels = class names in order, features,
    target/threshold settings); prop may be NULL (defaults). NULL + err on
    a bad spec.  */
propagation_job_t *propagation_job_new (const Annotate__V1__ModelSpec *spec,
                                        const Annotate__V1__PropagationSpec *prop, char *err,
                                        size_t errlen);
void propagation_job_destroy (propagation_job_t **self_p);

/*  One example of a page. label "" = unlabelled; a label not in
    spec->labels counts as unlabelled; validation = true: a
    validation-sample item, whose label is the person's answer: it is LEFT
    UNLABELLED for the spreading and used only to fit the thresholds. Items
    whose features fail are skipped. Bounded: at most
    PROPAGATION_JOB_MAX_EXAMPLES examples (more are ignored).  */
void propagation_job_add (propagation_job_t *self, const Annotate__V1__TrainExample *ex);
size_t propagation_job_size (const propagation_job_t *self);
/*  Examples refused by propagation_job_add (bad id, features, overflow).  */
size_t propagation_job_skipped (const propagation_job_t *self);

/*  Builds the graph, spreads, fits the thresholds. 0, or -1 with err
    (fewer than 2 labelled examples, fewer than 2 points, out of memory).  */
int propagation_job_run (propagation_job_t *self, char *err, size_t errlen);

/*  The results in pieces of at most max_labels (0: PROPAGATION_JOB_PIECE):
    fills *out (init'ed by the job; pointers stay valid until the next call
    or destroy): labels = one ItemLabel per example that came unlabelled,
    not validation, and that the spreading reached (SOURCE_PROPAGATION,
    ticket 0, model_version 0, uncertainty = 1 - confidence); the first
    piece also has info, the last has done = true. Returns false when there
    is nothing more to send (after the done piece, or before a successful
    run). order is set by the caller.  */
bool propagation_job_next (propagation_job_t *self, size_t max_labels,
                           Annotate__V1__Propagated *out);

#endif
