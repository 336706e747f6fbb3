/*  actors.h: the actors a worker hosts, one zactor (one thread) each.

    The worker runtime (agent/) starts them from an ASSIGN and talks to them
    only by messages on their pipes; they share no mutable state with it or
    with each other. Every actor takes:
      "$TERM"                    stop (zactor_destroy sends it)
      "CONFIG" [packed Assign]   the taxonomy or vector size changed
      "STATUS"                   -> "STATUS" [one line of text]
    An annotation actor also takes
      "BATCH" [batch_id be64] [packed Batch]
                                 -> "RESULT" [batch_id be64] [packed Result]
      "MODEL" [version be64] [model_t * | empty]
                                 a model to label with from now on; the
                                 actor owns it (empty: back to no model)
      "CORRECT" [packed Corrections]
                                 one online update per correction
    and answers every batch exactly once, in the order received.
    A retraining actor also takes
      "MODEL" [version be64] [model_t * | empty]
                                 the current model: the one to beat
      "RETRAIN" [packed RetrainOrder]
      "DATA" [packed TrainData]  a page of training data for its order
    and sends
      "PULL" [packed TrainPull]  -> the agent sends MSG_TRAIN_PULL
      "UPLOAD" [packed ModelUpload]
                                 -> the agent sends MSG_MODEL_UPLOAD
    A model_t travels as a pointer: the sender never touches it again, and
    every actor gets its own (model_clone), so nothing mutable is shared.
*/
#ifndef ANNOTATE_ACTORS_H
#define ANNOTATE_ACTORS_H

#include <stddef.h>
#include <stdint.h>

#include <czmq.h>

#include "annotate/v1/cluster.pb-c.h"
#include "manifest/manifest.h"
#include "model/model.h"

typedef struct {
    const char *name;           /* the actor's name from the manifest */
    const char *worker;         /* the hosting worker's name, for logs */
    char **labels;              /* taxonomy label names */
    size_t n_labels;
    uint32_t vector_dim;
    uint64_t manifest_version;
    Annotate__V1__ModelSpec *model; /* Assign.model, NULL: no model section */
} actor_config_t;

/*  Starts an actor of the given type; the config is copied before this
    returns. NULL for ACTOR types this build cannot host.  */
zactor_t *actor_start (actor_type_t type, const actor_config_t *config);

void annotation_actor (zsock_t *pipe, void *args);
void active_learning_actor (zsock_t *pipe, void *args);
void retraining_actor (zsock_t *pipe, void *args);

/*  A deep copy of a config, for actors to keep; freed with actor_config_free. */
actor_config_t *actor_config_copy (const actor_config_t *src);
void actor_config_free (actor_config_t **self_p);

/*  Config from a packed Assign (name and worker are kept as given).  */
actor_config_t *actor_config_from_assign (const char *name, const char *worker,
                                          const uint8_t *packed_assign, size_t len);

/*  "MODEL" messages: send transfers the model (NULL: "no model"); on
    failure the model is destroyed. recv takes the frames after "MODEL";
    false when they are malformed.  */
int actor_send_model (zsock_t *dest, uint64_t version, model_t *model);
bool actor_recv_model (zmsg_t *msg, uint64_t *version, model_t **model);

#endif
