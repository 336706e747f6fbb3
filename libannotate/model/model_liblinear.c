/*  model_liblinear.c: builds liblinear problems and trains binary
    logistic regressions (see model_liblinear.h).  */
#include <linear.h>
#include <math.h>
#include <stdlib.h>

#include "model/model_liblinear.h"

struct ll_problem {
    struct problem prob;
    struct feature_node *nodes;
    struct feature_node **rows;
    size_t dim;
};

static void
quiet (const char *s)
{
    (void) s;
}

void
ll_silence (void)
{
    set_print_string_function (quiet);
}

ll_problem_t *
ll_problem_new (const sparse_vec_t *const *x, size_t n, size_t dim)
{
    ll_problem_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += x[i]->n + 2;
    self->nodes = malloc (total * sizeof *self->nodes);
    self->rows = malloc ((n ? n : 1) * sizeof *self->rows);
    if (!self->nodes || !self->rows) {
        ll_problem_destroy (&self);
        return NULL;
    }
    struct feature_node *node = self->nodes;
    for (size_t i = 0; i < n; i++) {
        self->rows[i] = node;
        for (size_t e = 0; e < x[i]->n; e++) {
            float v = x[i]->val[e];
            if (x[i]->idx[e] < dim && v != 0 && isfinite (v))
                *node++ = (struct feature_node) { (int) x[i]->idx[e] + 1, v };
        }
        *node++ = (struct feature_node) { (int) dim + 1, 1.0 };
        *node++ = (struct feature_node) { -1, 0 };
    }
    self->dim = dim;
    self->prob.l = (int) n;
    self->prob.n = (int) dim + 1;
    self->prob.x = self->rows;
    self->prob.bias = 1.0;
    return self;
}

void
ll_problem_destroy (ll_problem_t **self_p)
{
    ll_problem_t *self = *self_p;
    if (!self)
        return;
    free (self->nodes);
    free (self->rows);
    free (self);
    *self_p = NULL;
}

int
ll_train_binary (const ll_problem_t *self, const double *y, int solver, double C, double eps,
                 float *w, size_t stride, float sign)
{
    struct problem prob = self->prob;
    prob.y = (double *) y;      /* liblinear only reads it */
    struct parameter param = { .solver_type = solver, .eps = eps, .C = C, .p = 0.1 };
    if (check_parameter (&prob, &param))
        return -1;
    struct model *lm = train (&prob, &param);
    if (!lm)
        return -1;
    if (lm->nr_class != 2) {
        free_and_destroy_model (&lm);
        return -1;
    }
    /*  liblinear keeps one vector, for its label[0]; we want the +1 side.  */
    if (lm->label[0] != 1)
        sign = -sign;
    for (size_t j = 0; j <= self->dim; j++)
        w[j * stride] = sign * (float) lm->w[j];
    free_and_destroy_model (&lm);
    return 0;
}
