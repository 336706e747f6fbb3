/*  retraining_actor.c: trains new model versions on a worker.

    Takes on its pipe:
      "RETRAIN" [packed RetrainOrder]  start an order (one at a time: a new
                                       order supersedes the running one,
                                       which is reported failed)
      "DATA" [packed TrainData]        a page of training data for it
      "MODEL" [version be64] [model_t * | empty]
                                       the current model, the one to beat
      "CONFIG" [packed Assign]         the model spec to fall back on
      "STATUS"                         -> "STATUS" [one line]
      "$TERM"                          stop
    Sends:
      "PULL" [packed TrainPull]        ask for the next page
      "UPLOAD" [packed ModelUpload]    the trained model, chunk by chunk

    An order runs like this: pull pages (after_id = the last page's
    next_after) until one says done, featurising every example with the
    order's spec and sending it to the training or the validation side by
    a hash of its id (so the split is the same on every run and machine);
    train with model_train; measure the current model on the same
    validation split for the baseline; fit the auto-accept thresholds on
    the validation sample (retrain_thresholds.h); serialise and upload in chunks of at
    most 1 MiB, the ModelInfo on the last. Failures (no data, fewer than two
    classes, the trainer's errors, no data for a minute) are uploaded as
    ModelUpload.error so the coordinator does not wait forever.

    Training runs on this actor's thread: the agent keeps heartbeating and
    labelling meanwhile. A $TERM that arrives during model_train is read
    when it returns.
*/
#include "actors/actors.h"
#include "actors/retrain_thresholds.h"

#include <inttypes.h>
#include <string.h>
#include <xxhash.h>

#include "actors/model_spec.h"
#include "util/util.h"

#define LOG "retraining"
#define PAGE_ITEMS        1000
#define MAX_EXAMPLES      2000000       /* more is not read: training runs on what came */
#define MAX_ID_BYTES      256
#define UPLOAD_CHUNK      (1u << 20)
#define DATA_TIMEOUT_MS   60000

/*  Where an example goes: the validation sample (people's answers on
    randomly drawn items) is held out of training and of the publish
    split, because the auto-accept thresholds are fitted on it and must
    not be fitted on what the model has seen.  */
enum { SIDE_TRAIN = 0, SIDE_VALID = 1, SIDE_SAMPLE = 2 };

typedef struct {
    zsock_t *pipe;
    actor_config_t *config;
    char trained_by[2 * MANIFEST_MAX_NAME + 2];
    model_t *current;                   /* the model to beat */
    uint64_t current_version;

    /* the running order; NULL: idle */
    Annotate__V1__RetrainOrder *order;
    const Annotate__V1__ModelSpec *spec;    /* the order's, or the assigned one */
    features_config_t features;
    zhashx_t *classes;                  /* label -> class index + 1 */
    double valid_fraction;
    char *after;                        /* after_id of the last pull */
    sparse_vec_t *x;
    int32_t *y;
    uint8_t *side;                      /* SIDE_* of each example */
    size_t n, cap;
    uint64_t skipped;
    int64_t last_data_us;

    uint64_t trained, failed;
    char status[200];
} self_t;

/* ---- to the agent ----------------------------------------------------- */

static void
s_send (self_t *self, const char *cmd, const ProtobufCMessage *body)
{
    size_t len = protobuf_c_message_get_packed_size (body);
    zframe_t *f = zframe_new (NULL, len);
    protobuf_c_message_pack (body, zframe_data (f));
    zmsg_t *m = zmsg_new ();
    zmsg_addstr (m, cmd);
    zmsg_append (m, &f);
    if (zmsg_send (&m, self->pipe) != 0)
        zmsg_destroy (&m);
}

static void
s_pull (self_t *self)
{
    Annotate__V1__TrainPull p = ANNOTATE__V1__TRAIN_PULL__INIT;
    p.order = self->order->order;
    p.after_id = self->after;
    p.max_items = PAGE_ITEMS;
    s_send (self, "PULL", &p.base);
}

/* ---- the order's state ------------------------------------------------ */

static void
s_reset (self_t *self)
{
    for (size_t i = 0; i < self->n; i++)
        sparse_vec_free (&self->x[i]);
    free (self->x);
    free (self->y);
    free (self->side);
    self->x = NULL;
    self->y = NULL;
    self->side = NULL;
    self->n = self->cap = 0;
    self->skipped = 0;
    zhashx_destroy (&self->classes);
    zstr_free (&self->after);
    if (self->order)
        annotate__v1__retrain_order__free_unpacked (self->order, NULL);
    self->order = NULL;
    self->spec = NULL;
}

/*  Reports the running order failed and goes idle.  */
static void
s_fail (self_t *self, const char *why)
{
    log_error (LOG, "%s: order %" PRIu64 " failed: %s", self->config->name, self->order->order,
               why);
    Annotate__V1__ModelUpload up = ANNOTATE__V1__MODEL_UPLOAD__INIT;
    up.order = self->order->order;
    up.error = (char *) why;
    s_send (self, "UPLOAD", &up.base);
    snprintf (self->status, sizeof self->status, "idle; order %" PRIu64 " failed: %.120s",
              self->order->order, why);
    self->failed++;
    s_reset (self);
}

static void
s_on_retrain (self_t *self, zframe_t *packed)
{
    Annotate__V1__RetrainOrder *o = packed ? annotate__v1__retrain_order__unpack (
                                                 NULL, zframe_size (packed), zframe_data (packed))
                                           : NULL;
    if (!o)
        return;
    if (self->order) {
        char why[96];
        snprintf (why, sizeof why, "superseded by order %" PRIu64, o->order);
        s_fail (self, why);
    }
    self->order = o;
    self->spec = o->spec ? o->spec : self->config->model;
    log_info (LOG, "%s: order %" PRIu64 " (%.100s): pulling training data", self->config->name,
              o->order, o->reason);
    const char *bad = self->spec ? model_spec_check (self->spec) : "no model spec";
    if (!bad && self->spec->n_labels < 2)
        bad = "the model spec names fewer than 2 classes";
    if (bad) {
        s_fail (self, bad);
        return;
    }
    model_spec_features (self->spec, &self->features);
    self->valid_fraction = model_spec_validation_fraction (self->spec);
    self->classes = zhashx_new ();
    for (size_t k = 0; k < self->spec->n_labels; k++)
        zhashx_insert (self->classes, self->spec->labels[k], (void *) (uintptr_t) (k + 1));
    self->after = strdup ("");
    self->last_data_us = time_mono_us ();
    snprintf (self->status, sizeof self->status, "order %" PRIu64 ": pulling training data",
              o->order);
    s_pull (self);
}

/* ---- pages ------------------------------------------------------------ */

static bool
s_is_valid (const self_t *self, const char *id, size_t len)
{
    return XXH3_64bits (id, len) % 10000 < (uint64_t) (self->valid_fraction * 10000);
}

/*  Featurises one example into the next slot; skips what does not fit.  */
static void
s_add (self_t *self, const Annotate__V1__TrainExample *ex)
{
    size_t idlen = strlen (ex->id);
    void *k = idlen && idlen <= MAX_ID_BYTES && utf8_valid (ex->id, idlen)
                  ? zhashx_lookup (self->classes, ex->label)
                  : NULL;
    if (!k) {
        self->skipped++;
        return;
    }
    if (self->n == self->cap) {
        self->cap = self->cap ? self->cap * 2 : 1024;
        self->x = realloc (self->x, self->cap * sizeof *self->x);
        self->y = realloc (self->y, self->cap * sizeof *self->y);
        self->side = realloc (self->side, self->cap * sizeof *self->side);
    }
    sparse_vec_t *x = &self->x[self->n];
    sparse_vec_init (x);
    char err[200];
    if (features_extract (&self->features, ex->text, strlen (ex->text), ex->vector,
                          ex->n_vector, x, err, sizeof err)
        != 0) {
        if (self->skipped++ == 0)
            log_warn (LOG, "%s: example '%.64s' skipped: %s", self->config->name, ex->id, err);
        sparse_vec_free (x);
        return;
    }
    self->y[self->n] = (int32_t) ((uintptr_t) k - 1);
    self->side[self->n] = ex->validation           ? SIDE_SAMPLE
                          : s_is_valid (self, ex->id, idlen) ? SIDE_VALID
                                                             : SIDE_TRAIN;
    self->n++;
}

static void s_train (self_t *self);

static void
s_on_data (self_t *self, zframe_t *packed)
{
    Annotate__V1__TrainData *d = packed ? annotate__v1__train_data__unpack (
                                              NULL, zframe_size (packed), zframe_data (packed))
                                        : NULL;
    if (!d)
        return;
    if (!self->order || d->order != self->order->order)
        log_warn (LOG, "%s: training data for order %" PRIu64 ", which is not running: dropped",
                  self->config->name, d->order);
    else if (d->error[0]) {
        log_error (LOG, "%s: order %" PRIu64 " cancelled by the coordinator: %.200s",
                   self->config->name, d->order, d->error);
        snprintf (self->status, sizeof self->status, "idle; order %" PRIu64 " cancelled",
                  d->order);
        s_reset (self);
    }
    else {
        self->last_data_us = time_mono_us ();
        for (size_t i = 0; i < d->n_examples && self->n < MAX_EXAMPLES; i++)
            s_add (self, d->examples[i]);
        size_t nlen = strlen (d->next_after);
        bool full = self->n >= MAX_EXAMPLES;
        if (full)
            log_warn (LOG, "%s: order %" PRIu64 ": %d examples read, training on those",
                      self->config->name, d->order, MAX_EXAMPLES);
        if (d->done || full)
            s_train (self);
        else if (!nlen || nlen > MAX_ID_BYTES || streq (d->next_after, self->after))
            s_fail (self, "training data pages make no progress (next_after)");
        else {
            zstr_free (&self->after);
            self->after = strdup (d->next_after);
            s_pull (self);
        }
    }
    annotate__v1__train_data__free_unpacked (d, NULL);
}

/* ---- training --------------------------------------------------------- */

/*  Examples of one side of the split, pointing into self's vectors.  */
static model_example_t *
s_side (const self_t *self, uint8_t side, size_t *n_out)
{
    model_example_t *ex = calloc (self->n ? self->n : 1, sizeof *ex);
    size_t n = 0;
    for (size_t i = 0; i < self->n; i++)
        if (self->side[i] == side)
            ex[n++] = (model_example_t) { &self->x[i], self->y[i], 0 };
    *n_out = n;
    return ex;
}

static size_t
s_distinct_classes (const model_example_t *ex, size_t n, size_t n_classes)
{
    bool *seen = calloc (n_classes, sizeof *seen);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        if (!seen[ex[i].y]) {
            seen[ex[i].y] = true;
            distinct++;
        }
    free (seen);
    return distinct;
}

/*  The current model's accuracy on the same split, when it is the version
    the order names, has the same classes and extracts the same features;
    else -1.  */
static double
s_baseline (self_t *self, const model_example_t *valid, size_t n_valid)
{
    const Annotate__V1__ModelSpec *s = self->spec;
    if (!self->current || !n_valid || self->current_version != self->order->current_version
        || model_n_classes (self->current) != s->n_labels
        || !model_spec_same_features (model_features (self->current), &self->features))
        return -1;
    for (size_t k = 0; k < s->n_labels; k++)
        if (!streq (model_label (self->current, k), s->labels[k]))
            return -1;
    model_metrics_t m;
    memset (&m, 0, sizeof m);
    model_evaluate (self->current, valid, n_valid, &m);
    double acc = m.accuracy;
    model_metrics_free (&m);
    return acc;
}

static void
s_upload (self_t *self, const uint8_t *blob, size_t size, Annotate__V1__ModelInfo *info)
{
    uint64_t sum = XXH3_64bits (blob, size);
    for (size_t off = 0; off < size; off += UPLOAD_CHUNK) {
        size_t len = size - off < UPLOAD_CHUNK ? size - off : UPLOAD_CHUNK;
        Annotate__V1__ModelUpload up = ANNOTATE__V1__MODEL_UPLOAD__INIT;
        up.order = self->order->order;
        up.offset = off;
        up.total_size = size;
        up.data.data = (uint8_t *) blob + off;
        up.data.len = len;
        up.checksum = sum;
        up.info = off + len == size ? info : NULL;
        s_send (self, "UPLOAD", &up.base);
    }
}

static void
s_fill_info (self_t *self, const model_metrics_t *m, double baseline, size_t size,
             Annotate__V1__ModelInfo *info, Annotate__V1__ClassMetrics *cm,
             Annotate__V1__ClassMetrics **cmp)
{
    info->parent = self->order->current_version;
    info->created_ms = time_now_ms ();
    info->n_train = m->n_train;
    info->n_valid = m->n_valid;
    info->accuracy = m->accuracy;
    info->baseline_accuracy = baseline >= 0 ? baseline : 0;
    info->ece = m->ece;
    info->ece_uncalibrated = m->ece_uncalibrated;
    info->temperature = m->temperature;
    info->train_ms = m->train_ms;
    for (size_t k = 0; k < m->n_classes; k++) {
        annotate__v1__class_metrics__init (&cm[k]);
        cm[k].label = (char *) m->classes[k].label;
        cm[k].precision = m->classes[k].precision;
        cm[k].recall = m->classes[k].recall;
        cm[k].support = m->classes[k].support;
        cmp[k] = &cm[k];
    }
    info->classes = cmp;
    info->n_classes = m->n_classes;
    info->trained_by = self->trained_by;
    info->size_bytes = size;
    info->class_count = (uint32_t) self->spec->n_labels;
    info->hash_bits = self->features.hash_bits;
    info->order = self->order->order;
}

static void
s_train (self_t *self)
{
    size_t n_train, n_valid;
    model_example_t *train = s_side (self, SIDE_TRAIN, &n_train);
    model_example_t *valid = s_side (self, SIDE_VALID, &n_valid);
    log_info (LOG, "%s: order %" PRIu64 ": training on %zu examples, validating on %zu (%" PRIu64
              " skipped)", self->config->name, self->order->order, n_train, n_valid,
              self->skipped);
    char err[256] = "";
    model_train_config_t tc;
    model_spec_train (self->spec, &tc);
    model_metrics_t m;
    memset (&m, 0, sizeof m);
    model_t *model = NULL;
    if (n_train == 0)
        err_set (err, sizeof err, "no training data");
    else if (s_distinct_classes (train, n_train, self->spec->n_labels) < 2)
        err_set (err, sizeof err, "fewer than 2 classes in the training data");
    else
        model = model_train (&self->features, (const char *const *) self->spec->labels,
                             self->spec->n_labels, train, n_train, valid, n_valid, &tc, &m, err,
                             sizeof err);
    if (!model) {
        free (train);
        free (valid);
        model_metrics_free (&m);
        s_fail (self, err[0] ? err : "training failed");
        return;
    }
    double baseline = s_baseline (self, valid, n_valid);
    uint8_t *blob = NULL;
    size_t size = model_serialize (model, &blob);
    Annotate__V1__ModelInfo info = ANNOTATE__V1__MODEL_INFO__INIT;
    Annotate__V1__ClassMetrics *cm = calloc (m.n_classes + 1, sizeof *cm);
    Annotate__V1__ClassMetrics **cmp = calloc (m.n_classes + 1, sizeof *cmp);
    s_fill_info (self, &m, baseline, size, &info, cm, cmp);
    size_t n_sample;
    model_example_t *sample = s_side (self, SIDE_SAMPLE, &n_sample);
    retrain_thresholds_t th;
    retrain_fit_thresholds (model, self->spec, sample, n_sample, &th, &info);
    free (sample);
    if (size)
        s_upload (self, blob, size, &info);
    log_info (LOG, "%s: order %" PRIu64 ": accuracy %.4f (baseline %s%.4f), ECE %.4f, %zu bytes "
              "in %.0f ms", self->config->name, self->order->order, m.accuracy,
              baseline >= 0 ? "" : "none, ", info.baseline_accuracy, m.ece, size, m.train_ms);
    snprintf (self->status, sizeof self->status, "idle; order %" PRIu64 " trained: accuracy %.4f",
              self->order->order, m.accuracy);
    retrain_thresholds_free (&th);
    free (cm);
    free (cmp);
    free (blob);
    free (train);
    free (valid);
    model_metrics_free (&m);
    model_destroy (&model);
    if (size) {
        self->trained++;
        s_reset (self);
    }
    else
        s_fail (self, "model_serialize failed");
}

/* ---- the actor -------------------------------------------------------- */

static void
s_on_model (self_t *self, zmsg_t *m)
{
    uint64_t version = 0;
    model_t *model = NULL;
    if (!actor_recv_model (m, &version, &model))
        return;
    model_destroy (&self->current);
    self->current = model;
    self->current_version = model ? version : 0;
}

static void
s_on_config (self_t *self, zframe_t *packed)
{
    actor_config_t *c = packed ? actor_config_from_assign (self->config->name,
                                                           self->config->worker,
                                                           zframe_data (packed),
                                                           zframe_size (packed))
                               : NULL;
    if (!c)
        return;
    /*  A running order keeps the spec it started with: it points into the
        order, or into the config that is kept until the order ends.  */
    if (self->order && self->spec == self->config->model)
        s_fail (self, "the model spec changed while the order ran");
    actor_config_free (&self->config);
    self->config = c;
}

static bool
s_handle (self_t *self, zmsg_t *m)
{
    char *cmd = zmsg_popstr (m);
    bool go_on = cmd && !streq (cmd, "$TERM");
    if (go_on && streq (cmd, "MODEL"))
        s_on_model (self, m);
    else if (go_on && streq (cmd, "STATUS"))
        zsock_send (self->pipe, "ss", "STATUS", self->status);
    else if (go_on) {
        zframe_t *body = zmsg_pop (m);
        if (streq (cmd, "RETRAIN"))
            s_on_retrain (self, body);
        else if (streq (cmd, "DATA"))
            s_on_data (self, body);
        else if (streq (cmd, "CONFIG"))
            s_on_config (self, body);
        zframe_destroy (&body);
    }
    zstr_free (&cmd);
    return go_on;
}

void
retraining_actor (zsock_t *pipe, void *args)
{
    self_t self;
    memset (&self, 0, sizeof self);
    self.pipe = pipe;
    self.config = actor_config_copy (args);
    snprintf (self.trained_by, sizeof self.trained_by, "%s/%s", self.config->worker,
              self.config->name);
    str_copy (self.status, sizeof self.status, "idle: waiting for a retrain order");
    zpoller_t *poller = zpoller_new (pipe, NULL);
    zsock_signal (pipe, 0);
    log_info (LOG, "%s started on %s", self.config->name, self.config->worker);
    while (!zsys_interrupted) {
        if (zpoller_wait (poller, 1000)) {
            zmsg_t *m = zmsg_recv (pipe);
            bool go_on = m && s_handle (&self, m);
            zmsg_destroy (&m);
            if (!go_on)
                break;
        }
        if (self.order && time_mono_us () - self.last_data_us > DATA_TIMEOUT_MS * 1000LL)
            s_fail (&self, "no training data for 60 s");
    }
    log_info (LOG, "%s stopped (%" PRIu64 " models trained, %" PRIu64 " orders failed)",
              self.config->name, self.trained, self.failed);
    s_reset (&self);
    model_destroy (&self.current);
    zpoller_destroy (&poller);
    actor_config_free (&self.config);
}
