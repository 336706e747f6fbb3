/*  model_liblinear.h: the thin layer over liblinear, alone in its own
    file because liblinear's <linear.h> defines a `struct model` that
    clashes with ours (model.h's model_t). Nothing here knows model_t.

    A problem is built once from the sparse vectors (feature j is liblinear
    index j + 1; a bias feature of value 1 with index dim + 1 is appended
    to every row, which liblinear leaves to its caller) and is then shared
    read-only by any number of binary trainings, on any threads.
*/
#ifndef ANNOTATE_MODEL_LIBLINEAR_H
#define ANNOTATE_MODEL_LIBLINEAR_H

#include <stddef.h>

#include "features/features.h"

typedef struct ll_problem ll_problem_t;

/*  Rows from the nonzero, finite values of x[i] with index < dim. NULL
    when memory is short.  */
ll_problem_t *ll_problem_new (const sparse_vec_t *const *x, size_t n, size_t dim);
void ll_problem_destroy (ll_problem_t **self_p);

/*  Stops liblinear's progress printing (a process-wide setting: call it
    before starting threads).  */
void ll_silence (void);

/*  Trains the rows with y[i] > 0 against the others (y is +1 / -1) with
    L2-regularised logistic regression (solver: liblinear solver_type) and
    writes the dim + 1 weights, the last one the bias, times sign, to
    w[0], w[stride], w[2 * stride], ... Returns 0, or -1 on failure.
    Silences liblinear's progress printing.  */
int ll_train_binary (const ll_problem_t *self, const double *y, int solver, double C, double eps,
                     float *w, size_t stride, float sign);

#endif
