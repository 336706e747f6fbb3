/*  annotation_backend.h: what an annotation actor asks of a model.

    The annotation actor does the messaging (unpacking batches, building
    results, answering every batch); a backend only turns items into label
    fields. The only backend is "none": it
    labels nothing (SOURCE_NONE, empty label, confidence 0, model_version 0)
    and never invents a label. A model backend plugs in by providing these
    three functions and being chosen in annotation_backend_find. (The
    learning loop's models do not go through this interface: they arrive
    at run time, so the annotation actor labels with model_labeller.h when
    it holds a model, and with the backend otherwise.)

    label_batch gets the batch and an array of ItemLabels already holding id
    and ticket; it fills label, confidence, source, model_version and
    scores. Strings and score arrays it sets must stay valid until the next
    label_batch or destroy call (the actor packs the result in between).
    Returns 0, or -1 with err set: the actor then answers the whole batch
    with SOURCE_NONE, so the coordinator never waits for it.
*/
#ifndef ANNOTATE_ANNOTATION_BACKEND_H
#define ANNOTATE_ANNOTATION_BACKEND_H

#include "actors/actors.h"
#include "annotate/v1/cluster.pb-c.h"

typedef struct {
    const char *name;
    void *(*init) (const actor_config_t *config, char *err, size_t errlen);
    int (*label_batch) (void *state, const Annotate__V1__Batch *batch,
                        Annotate__V1__ItemLabel *out, char *err, size_t errlen);
    void (*destroy) (void **state_p);
} annotation_backend_t;

/*  The backend for a model type ("none" for now); NULL if unknown.  */
const annotation_backend_t *annotation_backend_find (const char *model_type);

extern const annotation_backend_t annotation_backend_none;

#endif
