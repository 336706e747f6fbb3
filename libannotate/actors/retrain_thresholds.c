/*  retrain_thresholds.c: see retrain_thresholds.h.  */
#include "actors/retrain_thresholds.h"

#include <stdlib.h>
#include <string.h>

#include "actors/model_spec.h"
#include "al/al.h"

/*  Scores the sample with the model: one al_sample_t per example.  */
static al_sample_t *
s_score (const model_t *model, const model_example_t *ex, size_t n, uint64_t *correct)
{
    size_t k = model_n_classes (model);
    al_sample_t *s = calloc (n ? n : 1, sizeof *s);
    float *proba = calloc (k ? k : 1, sizeof *proba);
    *correct = 0;
    for (size_t i = 0; s && proba && i < n; i++) {
        size_t best = model_predict (model, ex[i].x, proba);
        s[i] = (al_sample_t) { proba[best], (uint32_t) best, (uint32_t) ex[i].y };
        if ((int32_t) best == ex[i].y)
            ++*correct;
    }
    free (proba);
    return s;
}

int
retrain_fill_thresholds (const al_sample_t *s, size_t n, uint64_t correct,
                         const char *const *labels, size_t k, const Annotate__V1__ModelSpec *spec,
                         retrain_thresholds_t *th, Annotate__V1__ModelInfo *info)
{
    retrain_thresholds_free (th);
    al_fit_config_t cfg;
    bool wanted = model_spec_fit_config (spec, &cfg);
    if (!wanted)
        cfg.pooled = true;
    al_threshold_t *fit = calloc (k ? k : 1, sizeof *fit);
    th->items = calloc (k ? k : 1, sizeof *th->items);
    th->ptrs = calloc (k ? k : 1, sizeof *th->ptrs);
    if (!fit || !th->items || !th->ptrs) {
        free (fit);
        retrain_thresholds_free (th);
        return -1;
    }
    al_fit_thresholds (s, n, k, &cfg, fit);
    uint64_t accepted = 0;
    for (size_t c = 0; c < k; c++) {
        Annotate__V1__ClassThreshold *t = &th->items[c];
        annotate__v1__class_threshold__init (t);
        t->label = (char *) labels[c];
        t->enabled = wanted && fit[c].enabled;
        t->threshold = t->enabled ? fit[c].threshold : 2.0f;
        t->n_above = fit[c].n_above;
        t->n_correct = fit[c].n_correct;
        t->accuracy = fit[c].accuracy;
        t->lower = fit[c].lower;
        t->upper = fit[c].upper;
        th->ptrs[c] = t;
        accepted += t->enabled ? fit[c].n_above : 0;
    }
    info->thresholds = th->ptrs;
    info->n_thresholds = k;
    info->n_validation_sample = (uint32_t) n;
    info->sample_accuracy = n ? (double) correct / (double) n : 0;
    al_wilson (correct, n, cfg.z, &info->sample_lower, &info->sample_upper);
    info->target_accuracy = wanted ? cfg.target : 0;
    info->threshold_rule = cfg.pooled ? "pooled" : "per_class";
    al_pooled_interval (fit, k, cfg.z, &info->accept_accuracy, &info->accept_lower,
                        &info->accept_upper);
    info->accept_sample = (uint32_t) accepted;
    free (fit);
    return 0;
}

void
retrain_fit_thresholds (const model_t *model, const Annotate__V1__ModelSpec *spec,
                        const model_example_t *sample, size_t n, retrain_thresholds_t *th,
                        Annotate__V1__ModelInfo *info)
{
    memset (th, 0, sizeof *th);
    size_t k = model_n_classes (model);
    const char **labels = calloc (k ? k : 1, sizeof *labels);
    uint64_t correct = 0;
    al_sample_t *s = s_score (model, sample, n, &correct);
    for (size_t c = 0; labels && c < k; c++)
        labels[c] = model_label (model, c);
    if (s && labels)
        retrain_fill_thresholds (s, n, correct, labels, k, spec, th, info);
    free (labels);
    free (s);
}

void
retrain_thresholds_free (retrain_thresholds_t *th)
{
    free (th->items);
    free (th->ptrs);
    th->items = NULL;
    th->ptrs = NULL;
}
