/*  actors.h: the actors a worker hosts, one zactor (one thread) each.

    The worker runtime (agent/) starts them from an ASSIGN and talks to them
    only by messages on their pipes; they share no mutable state with it or
    with each other. Every actor takes:
      "$TERM"                    stop (zactor_destroy sends it)
      "CONFIG" [packed Assign]   the taxonomy or vector size changed
      "STATUS"                   -> "STATUS" [one line of text]
    An annotation actor also takes
      "BATCH" [packed Batch]     -> "RESULT" [batch_id be64] [packed Result]
    and answers every batch exactly once, in the order received.
*/
#ifndef ANNOTATE_ACTORS_H
#define ANNOTATE_ACTORS_H

#include <stddef.h>
#include <stdint.h>

#include <czmq.h>

#include "manifest/manifest.h"

typedef struct {
    const char *name;           /* the actor's name from the manifest */
    const char *worker;         /* the hosting worker's name, for logs */
    char **labels;              /* taxonomy label names */
    size_t n_labels;
    uint32_t vector_dim;
    uint64_t manifest_version;
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

/*  Config from an unpacked Assign (name and worker are kept as given).  */
actor_config_t *actor_config_from_assign (const char *name, const char *worker,
                                          const uint8_t *packed_assign, size_t len);

#endif
