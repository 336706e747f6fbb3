/*  actors.c: starting actors by type, and their configuration copies.  */
#include "actors/actors.h"

#include <string.h>

#include "actors/model_spec.h"
#include "annotate/v1/cluster.pb-c.h"
#include "util/util.h"

static char *
s_dup (const char *s)
{
    return strdup (s ? s : "");
}

actor_config_t *
actor_config_copy (const actor_config_t *src)
{
    actor_config_t *c = calloc (1, sizeof *c);
    c->name = s_dup (src->name);
    c->worker = s_dup (src->worker);
    c->n_labels = src->n_labels;
    c->labels = src->n_labels ? calloc (src->n_labels, sizeof (char *)) : NULL;
    for (size_t i = 0; i < src->n_labels; i++)
        c->labels[i] = s_dup (src->labels[i]);
    c->vector_dim = src->vector_dim;
    c->manifest_version = src->manifest_version;
    c->model = model_spec_dup (src->model);
    return c;
}

void
actor_config_free (actor_config_t **self_p)
{
    actor_config_t *c = self_p ? *self_p : NULL;
    if (!c)
        return;
    free ((char *) c->name);
    free ((char *) c->worker);
    for (size_t i = 0; i < c->n_labels; i++)
        free (c->labels[i]);
    free (c->labels);
    model_spec_free (&c->model);
    free (c);
    *self_p = NULL;
}

actor_config_t *
actor_config_from_assign (const char *name, const char *worker, const uint8_t *packed, size_t len)
{
    Annotate__V1__Assign *as = annotate__v1__assign__unpack (NULL, len, packed);
    if (!as)
        return NULL;
    actor_config_t view = { name, worker, as->labels, as->n_labels, as->vector_dim,
                            as->manifest_version, as->model };
    actor_config_t *c = actor_config_copy (&view);
    annotate__v1__assign__free_unpacked (as, NULL);
    return c;
}

zactor_t *
actor_start (actor_type_t type, const actor_config_t *config)
{
    /*  zactor_new returns after the actor signalled, and every actor copies
        its config before signalling: a borrowed config is enough.  */
    switch (type) {
    case ACTOR_ANNOTATION: return zactor_new (annotation_actor, (void *) config);
    case ACTOR_ACTIVE_LEARNING: return zactor_new (active_learning_actor, (void *) config);
    case ACTOR_RETRAINING: return zactor_new (retraining_actor, (void *) config);
    default: return NULL;
    }
}

int
actor_send_model (zsock_t *dest, uint64_t version, model_t *model)
{
    uint8_t v[8];
    be64_put (v, version);
    zmsg_t *m = zmsg_new ();
    zmsg_addstr (m, "MODEL");
    zmsg_addmem (m, v, 8);
    zmsg_addmem (m, model ? (const void *) &model : NULL, model ? sizeof model : 0);
    if (zmsg_send (&m, dest) != 0) {
        zmsg_destroy (&m);
        model_destroy (&model);
        return -1;
    }
    return 0;
}

bool
actor_recv_model (zmsg_t *msg, uint64_t *version, model_t **model)
{
    zframe_t *vf = zmsg_first (msg);
    zframe_t *pf = zmsg_next (msg);
    *model = NULL;
    if (!vf || !pf || zframe_size (vf) != 8
        || (zframe_size (pf) != 0 && zframe_size (pf) != sizeof (model_t *)))
        return false;
    *version = be64_get (zframe_data (vf));
    if (zframe_size (pf))
        memcpy (model, zframe_data (pf), sizeof (model_t *));
    return true;
}
